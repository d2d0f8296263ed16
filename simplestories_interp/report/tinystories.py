"""Reproduce the TinyStories paper's interpretability figures (Eldan & Li 2023, Sec. 5).

* Fig. 19: positional (distance-based) heads of a 1-layer model, each at its own offset, on a
  paragraph with two named characters looking for an object and going to a place;
* Fig. 20: semantic heads of the same model on the same paragraph;
* Fig. 21: top-activating tokens of neurons 0 and 1 of the penultimate layer, neuron 0 of the
  layer before, and the single highest-activating neuron, with the role that explains each, and
  (the paper's claim is comparative) the role precision of every layer's neurons against a random
  orthogonal basis of the same layer (``analysis.basis_control``).

Offline it runs on the shipped models; any loadable model can be passed, including the
paper's own (``roneneldan/TinyStories-1Layer-21M``, ``roneneldan/TinyStories-1M``) when online.
Output: ``index.html`` showing every figure inline (static thumbnails, a one-line "how to read
this" and the finding), one interactive page per figure sharing one copy of the JavaScript,
``summary.txt``, and JSON of every number (heads, neuron roles, neurons vs random basis).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from simplestories_interp.analysis.basis_control import LayerComparison, compare_bases
from simplestories_interp.analysis.heads import HeadStats, as_records, head_statistics
from simplestories_interp.data.rows import build_rows
from simplestories_interp.files import claim_output
from simplestories_interp.report import thumbnails as th
from simplestories_interp.report import views
from simplestories_interp.report.config import FigureConfig
from simplestories_interp.zoo.loading import load_model


@dataclass
class Report:
    """What the figures add to the index and the summary."""

    sections: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def section(self, title: str, how: str, body: str, finding: str, link: str | None = None) -> None:
        more = f" <a href='{link}'>Open the interactive figure →</a>" if link else ""
        self.sections.append(f"<div class='fig'><h2>{views.html.escape(title)}</h2><p class='how'>How to read this: "
                             f"{how}</p>{body}<p class='finding'><b>Finding:</b> {finding}{more}</p></div>")


def _page(title: str, body: str) -> str:
    return views.page(title, body, head=f"<style>{th.CSS}</style>")


def _by_offsets(s: HeadStats) -> str:
    """A head described by where its strongest attention falls (Fig. 19's terms)."""
    hist = s.argmax_offsets
    top = sorted(range(len(hist) - 1), key=lambda o: -hist[o])[:3]
    where = ", ".join(f"offset {-o} {hist[o]:.0%}" for o in top)
    return f"argmax at {where}, further back {hist[-1]:.0%} of queries; no offset reaches the 90% of a positional head"


def _describe(s: HeadStats, by_offsets: bool = False) -> str:
    if s.head_class == "positional":
        return f"attends to offset {s.offset} (argmax there {s.positional_share:.0%} of the time)"
    if by_offsets:
        return _by_offsets(s)
    best = max(range(1, len(s.offset_attention)), key=lambda o: s.offset_attention[o])
    if s.head_class == "mixed" and s.far_content < 0.5:
        return (f"local, not at one offset: argmax on one offset {s.positional_share:.0%} of the time, mean "
                f"attention {s.offset_attention[best]:.2f} to offset -{best}, {s.far_content:.0%} beyond the window")
    role = f", favouring {s.top_role} tokens" if s.top_role else ", no role above chance"
    return (f"{s.far_content:.0%} of its attention goes beyond the local window to content tokens{role}; "
            f"entity lift {views.fmt_or_na(s.entity_lift)}x, same-entity attention "
            f"{views.fmt_or_na(s.same_entity, '.2f')}")


def _count(items) -> str:
    counts: dict[str, int] = {}
    for i in items:
        counts[i] = counts.get(i, 0) + 1
    return ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))


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


def _head_sentences(heads: list[HeadStats], tokens: list[str], patterns, positional: bool,
                    by_offsets: bool = False) -> str:
    """One highlighted paragraph per head (positional: the last word and the 20 tokens before it)."""
    parts = []
    for s in heads:
        pattern = patterns[s.layer][s.head]
        if positional:
            query = max(i for i, t in enumerate(tokens) if t[:1].isalnum())
            window = th.highlighted_sentence(tokens, pattern, query, start=max(0, query - 20))
            extra = th.offset_bars(s.argmax_offsets)
        else:
            window = th.highlighted_sentence(tokens, pattern, th.pick_query(pattern, tokens))
            extra = ""
        parts.append(f"<div><b>L{s.layer}H{s.head}</b> ({s.head_class}) <span class='meta'>{_describe(s, by_offsets)}"
                     f"</span> {extra}{window}</div>")
    return "".join(parts)


def _head_figures(cfg: FigureConfig, out: Path, report: Report) -> list[HeadStats]:
    model = load_model(cfg.head_model, device=cfg.device)
    rows = build_rows(cfg.data, model.tokenizer, min(model.cfg.n_ctx, 512), cfg.head_stories)
    stats = head_statistics(model, rows, progress=True)
    records = as_records(stats)
    (out / "heads.json").write_text(json.dumps(records, indent=1))
    shape = (model.cfg.n_layers, model.cfg.n_heads)
    heatmap = views.heads_heatmap(records, *shape, shared_js=True)
    views.write(out / "heads_heatmap.html", _page(f"Head classes of {cfg.head_model}", heatmap + _heads_table(stats)))
    layer0 = [s for s in stats if s.layer == 0]
    positional = sorted((s for s in layer0 if s.head_class == "positional"), key=lambda s: -(s.offset or 0))
    semantic = sorted((s for s in layer0 if s.head_class == "semantic"), key=lambda s: -(s.entity_lift or 0.0))
    offsets = sorted({s.offset for s in positional})
    report.notes.append(f"Head data: {rows.describe()}.")
    report.notes.append(f"Heads ({cfg.head_model}): {len(positional)} positional head(s) in layer 0 at offsets "
                        f"{offsets}, {len(semantic)} semantic; classes over all layers: "
                        + _count(s.head_class for s in stats) + ".")
    report.notes += [f"  L{s.layer}H{s.head} ({s.head_class}): {_describe(s)}" for s in positional + semantic]
    report.section(f"Heads of {cfg.head_model}: {_count(s.head_class for s in stats)}",
                   "one cell per head, coloured by class; a positional cell names the offset it attends to "
                   "(-1 = previous token). Criteria: docs/heads.md.",
                   th.class_grid(records, *shape),
                   f"{len(positional)} positional head(s) at offsets {offsets or 'none'} and {len(semantic)} semantic "
                   f"head(s) over {rows.describe()}.", "heads_heatmap.html")
    tokens, patterns = th.sentence_patterns(model, cfg.text)
    _fig19(cfg, model, out, report, layer0, positional, tokens, patterns)
    _fig20(cfg, model, out, report, layer0, semantic, tokens, patterns)
    return stats


def _fig19(cfg, model, out, report, layer0, positional, tokens, patterns) -> None:
    heads, finding = positional, (f"{len(positional)} head(s) attend by distance, at offsets "
                                  f"{sorted({s.offset for s in positional})}.")
    if not heads:
        heads = sorted(layer0, key=lambda s: -max(s.positional_share, max(s.offset_attention[1:])))[:3]
        finding = ("no head of this model meets the positional criteria (docs/heads.md); shown: the three heads "
                   "closest to them, described by their offsets.")
    _figure_page(cfg, model, out, "fig19_positional_heads.html", "Fig. 19 — positional (distance-based) heads",
                 heads, finding, by_offsets=True)
    report.section("Fig. 19 — positional heads", "the boxed token is the query (the last word); each earlier token "
                   "is shaded by the attention it gets from this head. Bars: how often the head's strongest "
                   "attention falls on offset 0, -1, …, -16 or further back, over the corpus.",
                   _head_sentences(heads, tokens, patterns, positional=True, by_offsets=True), finding,
                   "fig19_positional_heads.html")


def _fig20(cfg, model, out, report, layer0, semantic, tokens, patterns) -> None:
    heads, finding = semantic[:4], (f"{len(semantic)} head(s) attend by content: "
                                    + "; ".join(f"L{s.layer}H{s.head} entity lift {views.fmt_or_na(s.entity_lift)}x"
                                                + (f", favours {s.top_role}" if s.top_role else "")
                                                for s in semantic[:4]) + ".")
    if not heads:
        heads = sorted(layer0, key=lambda s: -s.far_content)[:3]
        finding = ("no head qualified as semantic (criteria: docs/heads.md). Shown for reference, not as semantic "
                   "heads: the three heads with the most attention beyond the local window, with their class.")
    _figure_page(cfg, model, out, "fig20_semantic_heads.html", "Fig. 20 — semantic heads", heads, finding)
    report.section("Fig. 20 — semantic heads", "the boxed token is the word whose attention beyond its neighbours "
                   "is most concentrated; the shading shows which earlier words this head reads.",
                   _head_sentences(heads, tokens, patterns, positional=False), finding, "fig20_semantic_heads.html")


def _figure_page(cfg, model, out: Path, name: str, title: str, heads: list[HeadStats], finding: str,
                 by_offsets: bool = False) -> None:
    desc = "".join(f"<li>L{s.layer}H{s.head} ({s.head_class}): {_describe(s, by_offsets)}</li>" for s in heads)
    body = (f"<p>Model {views.html.escape(cfg.head_model)}. {finding} Hover over a token to see where it "
            f"attends.</p><ul>{desc}</ul>"
            + views.attention_view(model, cfg.text, [(s.layer, s.head) for s in heads], shared_js=True))
    views.write(out / name, _page(title, body))


def _control_table(comparisons: list[LayerComparison]) -> str:
    head = ("<tr><th>layer</th><th>semantic roles: neurons</th><th>random basis</th><th>token-identity roles: "
            "neurons</th><th>random basis</th><th>semantic precision per unit</th></tr>")
    rows = []
    for c in comparisons:
        cell = lambda g: f"{g.share_above:.0%} ({g.units_above}) · mean {g.mean_precision:.2f}"  # noqa: E731
        hist = th.precision_histograms(c.neurons["semantic"].precisions, c.random["semantic"].precisions,
                                       ("neurons", "random basis"))
        rows.append(f"<tr><td>{c.hook.split('.')[1]}</td><td>{cell(c.neurons['semantic'])}</td>"
                    f"<td>{cell(c.random['semantic'])}</td><td>{cell(c.neurons['token'])}</td>"
                    f"<td>{cell(c.random['token'])}</td><td>{hist}</td></tr>")
    return f"<table class='logits'>{head}{''.join(rows)}</table>"


def _control_finding(comparisons: list[LayerComparison]) -> str:
    n = len(comparisons)
    sem = sum(c.neurons["semantic"].units_above > c.random["semantic"].units_above for c in comparisons)
    tok = sum(c.neurons["token"].units_above > c.random["token"].units_above for c in comparisons)
    t = comparisons[0].threshold
    if not comparisons[0].semantic_roles:
        return (f"this text has no semantic role annotations, so only token-identity roles (articles, punctuation, "
                f"...) are compared: neurons have more units with such a role at precision >= {t} than a random "
                f"orthogonal basis in {tok} of {n} layers.")
    return (f"neurons have more units with a semantic role at precision >= {t} than a random orthogonal basis in "
            f"{sem} of {n} layers, and more with a token-identity role in {tok} of {n}.")


def _neuron_figure(cfg: FigureConfig, out: Path, report: Report) -> None:
    model = load_model(cfg.neuron_model, device=cfg.device)
    n_layers = model.cfg.n_layers
    rows = build_rows(cfg.data, model.tokenizer, model.cfg.n_ctx, cfg.neuron_stories)
    comparisons = [compare_bases(model, layer, rows) for layer in tqdm(range(n_layers), desc="neurons")]
    tops, explanations = [c.top for c in comparisons], [c.neuron_explanations for c in comparisons]
    penult = max(0, n_layers - 2)
    best_layer = max(range(n_layers), key=lambda la: float(tops[la].max_per_unit.max()))
    picks = [(penult, 0, "neuron 0 of the penultimate layer"), (penult, 1, "neuron 1 of the penultimate layer"),
             (max(0, penult - 1), 0, "neuron 0 of another layer"),
             (best_layer, int(tops[best_layer].max_per_unit.argmax()), "the highest-activating neuron")]
    sections, thumbs = [], []
    report.notes.append(f"Neurons ({cfg.neuron_model}, {rows.describe()}):")
    for layer, unit, why in picks:
        ex = explanations[layer][unit]
        sections.append(views.neuron_section(tops[layer], unit, model=model, explanation=ex,
                                             title=f"Layer {layer}, neuron {unit} — {why}"))
        role = ex.describe()
        report.notes.append(f"  L{layer} N{unit} ({why}): {role}")
        thumbs.append(f"<div><b>L{layer} N{unit}</b> <span class='meta'>{why}; {role}</span>"
                      f"{th.top_examples(tops[layer], unit)}</div>")
    control = _control_table(comparisons)
    finding = _control_finding(comparisons)
    if rows.role_source == "tagger":
        finding += " Roles on this text come from the rule tagger (docs/roles.md), not annotations."
    views.write(out / "fig21_neurons.html", _page(
        "Fig. 21 — top-activating tokens of MLP neurons",
        f"<p>Model {views.html.escape(cfg.neuron_model)}; {rows.tokens.size} tokens of {len(rows.stories)} "
        "stories. Each line is a "
        f"top-activating token (highlighted) in its sentence.</p>{''.join(sections)}"
        f"<h2>Neurons vs a random orthogonal basis</h2><p>{finding}</p>{control}"))
    table = {f"blocks.{la}.mlp.hook_post": [{**vars(e), "shown_role": e.shown_role} for e in explanations[la]]
             for la in range(n_layers)}
    (out / "neuron_roles.json").write_text(json.dumps(table, indent=1))
    (out / "neuron_control.json").write_text(json.dumps([c.as_dict() for c in comparisons], indent=1))
    for c in comparisons:
        n, r = c.neurons, c.random
        report.notes.append(
            f"  layer {c.hook.split('.')[1]}: units with a role at precision >= {c.threshold}: semantic "
            f"{n['semantic'].units_above} neurons vs {r['semantic'].units_above} random directions, token-identity "
            f"{n['token'].units_above} vs {r['token'].units_above} (of {len(c.neuron_explanations)}); "
            f"neurons by role {n['semantic'].by_role} {n['token'].by_role}")
    report.notes.append("  " + finding)
    report.section("Fig. 21 — neurons, and neurons vs random directions",
                   "each neuron's top-activating tokens, highlighted in their sentence; the table compares every "
                   "layer's neurons with a random orthogonal basis of the same layer (same tokens, top-20, roles): "
                   "share of units whose best role reaches the precision threshold, semantic roles (names, "
                   "objects, places, actions, speakers) apart from token-identity ones (articles, punctuation).",
                   "".join(thumbs) + control, finding, "fig21_neurons.html")


def tinystories_figures(cfg: FigureConfig) -> Path:
    """Write all figures, ``index.html`` and ``summary.txt`` into ``cfg.out``."""
    with claim_output(cfg.out, "report") as out:
        return _write_report(cfg, out)


def _write_report(cfg: FigureConfig, out: Path) -> Path:
    views.write_shared_js(out)
    report = Report()
    _head_figures(cfg, out, report)
    report.notes.append("")
    _neuron_figure(cfg, out, report)
    summary = "\n".join(report.notes)
    (out / "summary.txt").write_text(summary + "\n")
    files = ("summary.txt", "heads.json", "neuron_roles.json", "neuron_control.json")
    links = " · ".join(f"<a href='{f}'>{f}</a>" for f in files)
    esc = views.html.escape
    body = (f"<p class='meta'>Heads: {esc(cfg.head_model)} · neurons: {esc(cfg.neuron_model)} · "
            f"data: {esc(cfg.data)}. "
            f"Every number: {links}.</p>" + "".join(report.sections))
    views.write(out / "index.html", _page("TinyStories interpretability figures, reproduced", body))
    return out / "index.html"
