"""The TinyStories paper's head figures (Eldan & Li 2023, Fig. 19 and 20) on a 1-layer model.

* Fig. 19, distance-based heads: the heads classified positional, each at its offset, and beside
  them, for the nearest offsets no positional head covers (-1, -2, -3), the head that comes
  closest, with how far it is from the criterion: the paper's "multi-scale" picture, measured.
* Fig. 20, semantic heads: each on the paragraph at the query where its attention beyond the
  local window lands most on the characters, the object or the places (an article first, as
  the paper's "the" attending to the object), entities tagged by the rule tagger.
* A "compared with the paper" box: what the paper shows and what this model shows, with numbers.

Head statistics run on one story per row by default (``FigureConfig.head_rows``), as the paper
reads stories; ``packed`` reads training-style rows, where earlier stories are in view.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from simplestories_interp.analysis.heads import HeadStats, as_records, head_statistics
from simplestories_interp.analysis.patterns import sentence_patterns
from simplestories_interp.data.rows import build_rows
from simplestories_interp.data.tagger import tag_records
from simplestories_interp.files import atomic_write_text
from simplestories_interp.render import thumbnails as th
from simplestories_interp.render import views
from simplestories_interp.studies.config import FigureConfig
from simplestories_interp.zoo.loading import load_model

NEAR_OFFSETS = (1, 2, 3)
"""Offsets (tokens back) at which Fig. 19 shows the closest head when no head is positional there."""
_ARTICLES = {"the", "a", "an"}
_KINDS = {"name": "name", "obj": "object", "place": "place"}


@dataclass
class Report:
    """What the figures add to the index and the summary."""

    sections: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def section(self, title: str, how: str, body: str, finding: str, link: str | None = None) -> None:
        more = f" <a href='{link}'>Open the interactive figure →</a>" if link else ""
        self.sections.append(f"<div class='fig'><h2>{views.html.escape(title)}</h2><p class='how'>How to read this: "
                             f"{how}</p>{body}<p class='finding'><b>Finding:</b> {views.html.escape(finding)}{more}"
                             "</p></div>")


def page(title: str, body: str) -> str:
    return views.page(title, body, head=f"<style>{th.CSS}</style>")


def count(items) -> str:
    counts: dict[str, int] = {}
    for i in items:
        counts[i] = counts.get(i, 0) + 1
    return ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))


def _near(s: HeadStats, o: int) -> str:
    return (f"closest to positional at offset -{o}: argmax there for {s.argmax_offsets[o]:.0%} of queries (a "
            f"positional head needs 90%), mean attention {s.offset_attention[o]:.2f} (Clark: 0.5)")


def describe(s: HeadStats) -> str:
    if s.head_class == "positional":
        return f"attends to offset {s.offset} (argmax there {s.positional_share:.0%} of the time)"
    best = max(range(1, len(s.offset_attention)), key=lambda o: s.offset_attention[o])
    if s.head_class == "mixed" and s.far_content < 0.5:
        return (f"local, not at one offset: argmax on one offset {s.positional_share:.0%} of the time, mean "
                f"attention {s.offset_attention[best]:.2f} to offset -{best}, {s.far_content:.0%} beyond the window")
    role = f", favouring {s.top_role} tokens" if s.top_role else ", no role above chance"
    return (f"{s.far_content:.0%} of its attention goes beyond the local window to content tokens{role}; "
            f"entity lift {views.fmt_or_na(s.entity_lift)}x, same-entity attention "
            f"{views.fmt_or_na(s.same_entity, '.2f')}")


def fig19_heads(layer0: list[HeadStats]) -> list[tuple[HeadStats, int | None]]:
    """The positional heads (offset None: shown at their own), then per uncovered near offset the
    head with the largest argmax share there (each head once)."""
    positional = sorted((s for s in layer0 if s.head_class == "positional"), key=lambda s: -(s.offset or 0))
    shown: list[tuple[HeadStats, int | None]] = [(s, None) for s in positional]
    covered = {-(s.offset or 0) for s in positional}
    for o in NEAR_OFFSETS:
        rest = [s for s in layer0 if all(s is not t for t, _ in shown)]
        if o not in covered and rest:
            shown.append((max(rest, key=lambda s: s.argmax_offsets[o]), o))
    return shown


def paragraph_entities(text: str, tokens: list[str], tokenizer) -> list[str | None]:
    """Per token of ``tokens`` (the model's tokens of ``text``, the BOS first): name, object, place
    or None, from the rule tagger; all None where the tokenizer's offsets do not line up."""
    spans = [(a["start"], a["end"], _KINDS[a["entity"].split(":")[0]])
             for a in tag_records([text])[0]["annotations"]
             if a.get("entity") and a["entity"].split(":")[0] in _KINDS]
    offsets = tokenizer(text, return_offsets_mapping=True, add_special_tokens=False)["offset_mapping"]
    if len(offsets) != len(tokens) - 1:
        return [None] * len(tokens)
    return [None] + [next((k for a, b, k in spans if start < b and end > a), None) for start, end in offsets]


def entity_query(pattern, tokens: list[str], kinds: list[str | None], far: int = 3) -> tuple[int, float]:
    """(query, attention beyond ``far`` tokens back that lands on entities): the best article if one
    puts at least 0.3 there, else the best word token."""
    scores = {q: float(sum(pattern[q, k] for k in range(1, q - far) if kinds[k]))
              for q in range(far + 2, len(tokens)) if th.is_word(tokens[q])}
    if not scores:
        return len(tokens) - 1, 0.0
    articles = {q: v for q, v in scores.items() if tokens[q].lower() in _ARTICLES and v >= 0.3}
    pool = articles or scores
    q = max(pool, key=pool.get)
    return q, pool[q]


def _fig20_line(s: HeadStats, tokens, pattern, kinds) -> tuple[int, str]:
    q, mass = entity_query(pattern, tokens, kinds)
    k = int(pattern[q, 1:q].argmax()) + 1
    what = f"“{tokens[q].removeprefix('##')}” reads “{tokens[k].removeprefix('##')}”" + (
        f" ({kinds[k]})" if kinds[k] else "")
    return q, f"{what}, {mass:.0%} of its attention on entities beyond the window"


def head_figures(cfg: FigureConfig, out: Path, report: Report) -> list[HeadStats]:
    model = load_model(cfg.head_model, device=cfg.device)
    per_story = cfg.head_rows == "story"
    rows = build_rows(cfg.data, model.tokenizer, min(model.cfg.n_ctx, 512), cfg.head_stories,
                      per_document=per_story, pad=per_story)
    stats = head_statistics(model, rows, progress=True)
    records = as_records(stats)
    atomic_write_text(out / "heads.json", json.dumps(records, indent=1))
    shape = (model.cfg.n_layers, model.cfg.n_heads)
    heatmap = views.heads_heatmap(records, *shape, shared_js=True)
    views.write(out / "heads_heatmap.html", page(f"Head classes of {cfg.head_model}", heatmap + _heads_table(stats)))
    layer0 = [s for s in stats if s.layer == 0]
    positional = [s for s in layer0 if s.head_class == "positional"]
    semantic = sorted((s for s in layer0 if s.head_class == "semantic"), key=lambda s: -(s.entity_lift or 0.0))
    offsets = sorted({s.offset for s in positional})
    data = rows.describe() + ("" if per_story else ", packed rows as in training")
    report.notes.append(f"Head data: {data}.")
    report.notes.append(f"Heads ({cfg.head_model}): {len(positional)} positional head(s) in layer 0 at offsets "
                        f"{offsets}, {len(semantic)} semantic; classes over all layers: "
                        + count(s.head_class for s in stats) + ".")
    report.notes += [f"  L{s.layer}H{s.head} ({s.head_class}): {describe(s)}" for s in positional + semantic]
    report.section(f"Heads of {cfg.head_model}: {count(s.head_class for s in stats)}",
                   "one cell per head, coloured by class; a positional cell names the offset it attends to "
                   "(-1 = previous token). Criteria: docs/heads.md.",
                   th.class_grid(records, *shape),
                   f"{len(positional)} positional head(s) at offsets {offsets or 'none'} and {len(semantic)} semantic "
                   f"head(s), {sum((s.entity_lift or 0) >= 1.5 for s in semantic)} of them seeking entities (entity "
                   f"lift >= 1.5), over {data}.", "heads_heatmap.html")
    tokens, patterns = sentence_patterns(model, cfg.text)
    kinds = paragraph_entities(cfg.text, tokens, model.tokenizer)
    near = fig19_heads(layer0)
    lines = [_fig20_line(s, tokens, patterns[s.layer][s.head], kinds) for s in semantic[:4]]
    _fig19(cfg, model, out, report, near, tokens, patterns)
    _fig20(cfg, model, out, report, layer0, semantic, lines, tokens, patterns)
    _compared_with_paper(report, near, semantic, lines)
    return stats


def _heads_table(stats: list[HeadStats]) -> str:
    columns = ("head", "class", "offset", "argmax offsets (0 … -16, far)", "Voita share", "conf.", "first tok.",
               "entropy", "far content", "entity lift", "top role")
    head = "<tr>" + "".join(f"<th>{c}</th>" for c in columns) + "</tr>"
    rows = "".join(
        f"<tr><td>L{s.layer}H{s.head}</td><td>{s.head_class}</td><td>{s.offset if s.offset is not None else ''}</td>"
        f"<td>{th.offset_bars(s.argmax_offsets)}</td>"
        f"<td>{s.positional_share:.2f}</td><td>{s.confidence:.2f}</td><td>{s.first_token:.2f}</td>"
        f"<td>{s.entropy:.2f}</td><td>{s.far_content:.2f}</td><td>{views.fmt_or_na(s.entity_lift)}</td>"
        f"<td>{s.top_role or 'none'}</td></tr>"
        for s in stats)
    return f"<table class='logits'>{head}{rows}</table>"


def _sentence(s: HeadStats, text: str, window: str, extra: str = "") -> str:
    return (f"<div><b>L{s.layer}H{s.head}</b> ({s.head_class}) <span class='meta'>{views.html.escape(text)}</span> "
            f"{extra}{window}</div>")


def _fig19(cfg, model, out, report, near, tokens, patterns) -> None:
    query = max(i for i, t in enumerate(tokens) if th.is_word(t))
    positional = [s for s, o in near if o is None]
    texts = [describe(s) if o is None else _near(s, o) for s, o in near]
    body = "".join(_sentence(s, t, th.highlighted_sentence(tokens, patterns[s.layer][s.head], query,
                                                           start=max(0, query - 20)), th.offset_bars(s.argmax_offsets))
                   for (s, _), t in zip(near, texts, strict=True))
    finding = (f"{len(positional)} head(s) attend by distance, at offsets {sorted({s.offset for s in positional})}"
               if positional else "no head of this model meets the positional criteria (docs/heads.md)")
    closest = [f"-{o}: L{s.layer}H{s.head} {s.argmax_offsets[o]:.0%}" for s, o in near if o is not None]
    if closest:
        finding += "; closest at the other near offsets (argmax share, 90% needed): " + ", ".join(closest)
    finding += "."
    _figure_page(cfg, model, out, "fig19_positional_heads.html", "Fig. 19 — positional (distance-based) heads",
                 [s for s, _ in near], texts, finding)
    report.section("Fig. 19 — positional heads", "the boxed token is the query (the last word); each earlier token "
                   "is shaded by the attention it gets from this head. Bars: how often the head's strongest "
                   "attention falls on offset 0, -1, …, -16 or further back, over the corpus.", body, finding,
                   "fig19_positional_heads.html")


def _fig20(cfg, model, out, report, layer0, semantic, lines, tokens, patterns) -> None:
    heads = semantic[:4]
    shown = f" (shown: the {len(heads)} with the highest entity lift)" if len(semantic) > len(heads) else ""
    finding = (f"{len(semantic)} head(s) attend by content{shown}: "
               + "; ".join(f"L{s.layer}H{s.head} entity lift {views.fmt_or_na(s.entity_lift)}x"
                           + (f", favours {s.top_role}" if s.top_role else "") + f" ({line})"
                           for s, (_, line) in zip(heads, lines, strict=True)) + ".")
    if heads:
        body = "".join(_sentence(s, describe(s), th.highlighted_sentence(tokens, patterns[s.layer][s.head], q))
                       for s, (q, _) in zip(heads, lines, strict=True))
    else:
        heads = sorted(layer0, key=lambda s: -s.far_content)[:3]
        finding = ("no head qualified as semantic (criteria: docs/heads.md). Shown for reference, not as semantic "
                   "heads: the three heads with the most attention beyond the local window, with their class.")
        body = "".join(_sentence(s, describe(s), th.highlighted_sentence(
            tokens, patterns[s.layer][s.head], th.pick_query(patterns[s.layer][s.head], tokens))) for s in heads)
    _figure_page(cfg, model, out, "fig20_semantic_heads.html", "Fig. 20 — semantic heads", heads,
                 [describe(s) for s in heads], finding)
    report.section("Fig. 20 — semantic heads", "the boxed token is the query whose attention beyond its "
                   "neighbours lands most on the characters, the object or the places (an article where one "
                   "does); the shading shows which earlier words this head reads.", body, finding,
                   "fig20_semantic_heads.html")


def _compared_with_paper(report: Report, near, semantic: list[HeadStats], lines) -> None:
    positional = [s for s, o in near if o is None]
    ours19 = ", ".join(f"L{s.layer}H{s.head} at {s.offset} (argmax share {s.positional_share:.2f})"
                       for s in positional) or "no positional head"
    closest = "; ".join(f"closest at -{o}: L{s.layer}H{s.head}, share {s.argmax_offsets[o]:.2f}"
                        for s, o in near if o is not None)
    seekers = [s for s in semantic if (s.entity_lift or 0.0) >= 1.5]
    ours20 = (f"{len(semantic)} semantic head(s), {len(seekers)} seeking entities (lift "
              + ", ".join(f"{s.entity_lift:.1f}" for s in seekers) + ")"
              + (f"; on the paragraph: {lines[0][1]}" if lines else ""))
    rows = [("Fig. 19: heads that attend by distance", "several heads, each at its own offset (multi-scale)",
             ours19 + (f"; {closest}" if closest else "")),
            ("Fig. 20: heads that attend by meaning", "“the”/“a” attend to the object; most tokens to the "
             "characters' names", ours20)]
    esc = views.html.escape
    table = "".join(f"<tr><td>{esc(a)}</td><td>{esc(b)}</td><td>{esc(c)}</td></tr>" for a, b, c in rows)
    report.sections.append("<div class='fig'><h2>Compared with the paper</h2><table class='cmp'><tr><th></th>"
                           f"<th>the paper (Eldan &amp; Li 2023)</th><th>this model</th></tr>{table}</table></div>")
    report.notes += ["Compared with the paper:"] + [f"  {a}: paper: {b}; this model: {c}" for a, b, c in rows]


def _figure_page(cfg, model, out: Path, name: str, title: str, heads: list[HeadStats], texts: list[str],
                 finding: str) -> None:
    esc = views.html.escape
    desc = "".join(f"<li>L{s.layer}H{s.head} ({s.head_class}): {esc(t)}</li>"
                   for s, t in zip(heads, texts, strict=True))
    body = (f"<p>Model {esc(cfg.head_model)}. {esc(finding)} Hover over a token to see where it attends.</p>"
            f"<ul>{desc}</ul>" + views.attention_view(model, cfg.text, [(s.layer, s.head) for s in heads],
                                                      shared_js=True))
    views.write(out / name, page(title, body))
