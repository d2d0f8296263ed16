"""The head figures' pages, drawn from the ``heads`` part of a TinyStories study's ``results.json``.

:class:`HeadFigures` reads the measured numbers back (every head's statistics, the shown heads'
attention on the paragraph) and makes the figures' choices again (:mod:`.paper_heads`); the rest
renders: the index's sections (the class grid, Fig. 19, Fig. 20, "compared with the paper"), the
summary's lines, and the interactive pages (heat map, one page per figure, sharing one copy of
plotly and circuitsvis).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property

import torch

from simplestories_interp.analysis.heads import HeadStats
from simplestories_interp.render import thumbnails as th
from simplestories_interp.render import views
from simplestories_interp.studies.paper_heads import (
    count,
    describe,
    entity_query,
    fig19_heads,
    head_name,
    near_text,
    semantic_heads,
)


def page(title: str, body: str) -> str:
    """A page of the study: the HTML kit's page with the figures' CSS."""
    return views.page(title, body, head=f"<style>{th.CSS}</style>")


def section(title: str, how: str, body: str, finding: str, link: str | None = None) -> str:
    """One figure on the index: title, how to read it, the figure, the finding and a link to its page."""
    more = f" <a href='{link}'>Open the interactive figure →</a>" if link else ""
    return (f"<div class='fig'><h2>{views.html.escape(title)}</h2><p class='how'>How to read this: {how}</p>"
            f"{body}<p class='finding'><b>Finding:</b> {views.html.escape(finding)}{more}</p></div>")


@dataclass
class HeadFigures:
    """The head part of the results, read back, with the figures' choices made from it."""

    results: dict

    @cached_property
    def stats(self) -> list[HeadStats]:
        return [HeadStats(**r) for r in self.results["records"]]

    @cached_property
    def layer0(self) -> list[HeadStats]:
        return [s for s in self.stats if s.layer == 0]

    @cached_property
    def positional(self) -> list[HeadStats]:
        return [s for s in self.layer0 if s.head_class == "positional"]

    @cached_property
    def semantic(self) -> list[HeadStats]:
        return semantic_heads(self.stats)

    @cached_property
    def near(self) -> list[tuple[HeadStats, int | None]]:
        return fig19_heads(self.layer0)

    @property
    def tokens(self) -> list[str]:
        return self.results["paragraph"]["tokens"]

    def pattern(self, s: HeadStats) -> torch.Tensor:
        """Head ``s``'s attention on the paragraph (query x key, zero above the diagonal)."""
        rows = self.results["paragraph"]["patterns"][head_name(s)]
        return torch.tensor([row + [0.0] * (len(rows) - len(row)) for row in rows])

    @cached_property
    def lines(self) -> list[tuple[int, str]]:
        """Per shown semantic head: the query reading entities most, and what it reads."""
        return [self._fig20_line(s) for s in self.semantic[:4]]

    def _fig20_line(self, s: HeadStats) -> tuple[int, str]:
        tokens, kinds, pattern = self.tokens, self.results["paragraph"]["entities"], self.pattern(s)
        q, mass = entity_query(pattern, tokens, kinds)
        k = int(pattern[q, 1:q].argmax()) + 1
        what = f"“{tokens[q].removeprefix('##')}” reads “{tokens[k].removeprefix('##')}”" + (
            f" ({kinds[k]})" if kinds[k] else "")
        return q, f"{what}, {mass:.0%} of its attention on entities beyond the window"

    def classes(self) -> str:
        return count(s.head_class for s in self.stats)


def head_notes(h: HeadFigures) -> list[str]:
    """The summary's lines on heads (the comparison with the paper included)."""
    offsets = sorted({s.offset for s in h.positional})
    notes = [f"Head data: {h.results['data']}.",
             f"Heads ({h.results['model']}): {len(h.positional)} positional head(s) in layer 0 at offsets {offsets}, "
             f"{len(h.semantic)} semantic; classes over all layers: {h.classes()}."]
    notes += [f"  L{s.layer}H{s.head} ({s.head_class}): {describe(s)}" for s in h.positional + h.semantic]
    return notes + ["Compared with the paper:"] + [f"  {a}: paper: {b}; this model: {c}" for a, b, c in _compared(h)]


def head_sections(h: HeadFigures) -> list[str]:
    """The index's head sections: the class grid, Fig. 19, Fig. 20 and the comparison with the paper."""
    offsets = sorted({s.offset for s in h.positional})
    n_layers, n_heads = h.results["shape"]
    grid = section(f"Heads of {h.results['model']}: {h.classes()}",
                   "one cell per head, coloured by class; a positional cell names the offset it attends to "
                   "(-1 = previous token). Criteria: docs/heads.md.",
                   th.class_grid(h.results["records"], n_layers, n_heads),
                   f"{len(h.positional)} positional head(s) at offsets {offsets or 'none'} and {len(h.semantic)} "
                   f"semantic head(s), {sum((s.entity_lift or 0) >= 1.5 for s in h.semantic)} of them seeking "
                   f"entities (entity lift >= 1.5), over {h.results['data']}.", "heads_heatmap.html")
    return [grid, _fig19(h)[0], _fig20(h)[0], _compared_box(h)]


def head_files(h: HeadFigures) -> dict[str, str]:
    """heads.json and the interactive pages: the heat map with the table, Fig. 19 and Fig. 20."""
    n_layers, n_heads = h.results["shape"]
    heatmap = views.heads_heatmap(h.results["records"], n_layers, n_heads, shared_js=True)
    return {"heads.json": json.dumps(h.results["records"], indent=1),
            "heads_heatmap.html": page(f"Head classes of {h.results['model']}", heatmap + _heads_table(h.stats)),
            "fig19_positional_heads.html": _fig19(h)[1], "fig20_semantic_heads.html": _fig20(h)[1]}


def _heads_table(stats: list[HeadStats]) -> str:
    columns = ("head", "class", "offset", "argmax offsets (0 … -16, far)", "Voita share", "conf.", "first tok.",
               "entropy", "far content", "entity lift", "top role")
    esc = views.html.escape  # roles and classes come from the results (a user's annotations)
    head = "<tr>" + "".join(f"<th>{c}</th>" for c in columns) + "</tr>"
    rows = "".join(
        f"<tr><td>L{s.layer}H{s.head}</td><td>{esc(s.head_class)}</td>"
        f"<td>{s.offset if s.offset is not None else ''}</td>"
        f"<td>{th.offset_bars(s.argmax_offsets)}</td>"
        f"<td>{s.positional_share:.2f}</td><td>{s.confidence:.2f}</td><td>{s.first_token:.2f}</td>"
        f"<td>{s.entropy:.2f}</td><td>{s.far_content:.2f}</td><td>{views.fmt_or_na(s.entity_lift)}</td>"
        f"<td>{esc(s.top_role or 'none')}</td></tr>"
        for s in stats)
    return f"<table class='logits'>{head}{rows}</table>"


def _sentence(s: HeadStats, text: str, window: str, extra: str = "") -> str:
    return (f"<div><b>L{s.layer}H{s.head}</b> ({views.html.escape(s.head_class)}) "
            f"<span class='meta'>{views.html.escape(text)}</span> "
            f"{extra}{window}</div>")


def _fig19(h: HeadFigures) -> tuple[str, str]:
    """(the index's section, the interactive page) of Fig. 19."""
    tokens = h.tokens
    query = max(i for i, t in enumerate(tokens) if th.is_word(t))
    positional = [s for s, o in h.near if o is None]
    texts = [describe(s) if o is None else near_text(s, o) for s, o in h.near]
    body = "".join(_sentence(s, t, th.highlighted_sentence(tokens, h.pattern(s), query, start=max(0, query - 20)),
                             th.offset_bars(s.argmax_offsets)) for (s, _), t in zip(h.near, texts, strict=True))
    finding = (f"{len(positional)} head(s) attend by distance, at offsets {sorted({s.offset for s in positional})}"
               if positional else "no head of this model meets the positional criteria (docs/heads.md)")
    closest = [f"-{o}: L{s.layer}H{s.head} {s.argmax_offsets[o]:.0%}" for s, o in h.near if o is not None]
    if closest:
        finding += "; closest at the other near offsets (argmax share, 90% needed): " + ", ".join(closest)
    finding += "."
    return (section("Fig. 19 — positional heads", "the boxed token is the query (the last word); each earlier token "
                    "is shaded by the attention it gets from this head. Bars: how often the head's strongest "
                    "attention falls on offset 0, -1, …, -16 or further back, over the corpus.", body, finding,
                    "fig19_positional_heads.html"),
            _figure_page(h, "Fig. 19 — positional (distance-based) heads", [s for s, _ in h.near], texts, finding))


def _fig20(h: HeadFigures) -> tuple[str, str]:
    """(the index's section, the interactive page) of Fig. 20."""
    heads = h.semantic[:4]
    shown = f" (shown: the {len(heads)} with the highest entity lift)" if len(h.semantic) > len(heads) else ""
    finding = (f"{len(h.semantic)} head(s) attend by content{shown}: "
               + "; ".join(f"L{s.layer}H{s.head} entity lift {views.fmt_or_na(s.entity_lift)}x"
                           + (f", favours {s.top_role}" if s.top_role else "") + f" ({line})"
                           for s, (_, line) in zip(heads, h.lines, strict=True)) + ".")
    if heads:
        body = "".join(_sentence(s, describe(s), th.highlighted_sentence(h.tokens, h.pattern(s), q))
                       for s, (q, _) in zip(heads, h.lines, strict=True))
    else:
        heads = sorted(h.layer0, key=lambda s: -s.far_content)[:3]
        finding = ("no head qualified as semantic (criteria: docs/heads.md). Shown for reference, not as semantic "
                   "heads: the three heads with the most attention beyond the local window, with their class.")
        body = "".join(_sentence(s, describe(s), th.highlighted_sentence(
            h.tokens, h.pattern(s), th.pick_query(h.pattern(s), h.tokens))) for s in heads)
    return (section("Fig. 20 — semantic heads", "the boxed token is the query whose attention beyond its "
                    "neighbours lands most on the characters, the object or the places (an article where one "
                    "does); the shading shows which earlier words this head reads.", body, finding,
                    "fig20_semantic_heads.html"),
            _figure_page(h, "Fig. 20 — semantic heads", heads, [describe(s) for s in heads], finding))


def _compared(h: HeadFigures) -> list[tuple[str, str, str]]:
    """(figure, what the paper shows, what this model shows)."""
    positional = [s for s, o in h.near if o is None]
    ours19 = ", ".join(f"L{s.layer}H{s.head} at {s.offset} (argmax share {s.positional_share:.2f})"
                       for s in positional) or "no positional head"
    closest = "; ".join(f"closest at -{o}: L{s.layer}H{s.head}, share {s.argmax_offsets[o]:.2f}"
                        for s, o in h.near if o is not None)
    seekers = [s for s in h.semantic if (s.entity_lift or 0.0) >= 1.5]
    ours20 = (f"{len(h.semantic)} semantic head(s), {len(seekers)} seeking entities (lift "
              + ", ".join(f"{s.entity_lift:.1f}" for s in seekers) + ")"
              + (f"; on the paragraph: {h.lines[0][1]}" if h.lines else ""))
    return [("Fig. 19: heads that attend by distance", "several heads, each at its own offset (multi-scale)",
             ours19 + (f"; {closest}" if closest else "")),
            ("Fig. 20: heads that attend by meaning", "“the”/“a” attend to the object; most tokens to the "
             "characters' names", ours20)]


def _compared_box(h: HeadFigures) -> str:
    esc = views.html.escape
    table = "".join(f"<tr><td>{esc(a)}</td><td>{esc(b)}</td><td>{esc(c)}</td></tr>" for a, b, c in _compared(h))
    return ("<div class='fig'><h2>Compared with the paper</h2><table class='cmp'><tr><th></th>"
            f"<th>the paper (Eldan &amp; Li 2023)</th><th>this model</th></tr>{table}</table></div>")


def _figure_page(h: HeadFigures, title: str, heads: list[HeadStats], texts: list[str], finding: str) -> str:
    esc = views.html.escape
    desc = "".join(f"<li>L{s.layer}H{s.head} ({esc(s.head_class)}): {esc(t)}</li>"
                   for s, t in zip(heads, texts, strict=True))
    view = views.patterns_view(h.tokens, [h.pattern(s).tolist() for s in heads], [head_name(s) for s in heads],
                               shared_js=True)
    return page(title, f"<p>Model {esc(h.results['model'])}. {esc(finding)} Hover over a token to see where it "
                       f"attends.</p><ul>{desc}</ul>{view}")
