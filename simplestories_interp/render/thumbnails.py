"""Small static figures for a report's index: a reader takes them in without clicking.

All are plain HTML/CSS or inline SVG (no JavaScript), so the index stays light however many
figures it shows, and renders the same in any browser, offline:

* :func:`class_grid`: the layer x head grid coloured by head class (a thumbnail heat map);
* :func:`highlighted_sentence`: one head on one paragraph as in the paper's Fig. 19/20 -- the
  query token boxed, every earlier token shaded by the attention it receives;
* :func:`offset_bars`: a head's raw argmax-offset histogram (offsets 0 ... -16, then "far");
* :func:`precision_histograms`: two distributions of role precision side by side (neurons vs a
  random basis);
* :func:`top_examples`: a unit's top-activating tokens (from its card), highlighted in their sentence.

Every string from outside (tokens, labels, records) goes through :func:`html.escape`.
"""

from __future__ import annotations

import html

import numpy as np
from jaxtyping import Float
from torch import Tensor

# Head class -> colour, shared with the interactive heat map (views.heads_heatmap).
CLASS_COLORS = {"positional": "#4c78a8", "semantic": "#e45756", "mixed": "#bab0ac", "sink": "#54a24b"}

CSS = """
.grid { border-collapse: separate; border-spacing: 3px; font-size: 0.8em; }
.grid td { width: 4.2em; height: 2.4em; text-align: center; color: #fff; border-radius: 4px; }
.grid th { font-weight: normal; color: #666; padding: 0 6px; }
.sent { font-family: Georgia, serif; line-height: 1.9; margin: 0.3em 0 0.8em; }
.sent span { border-radius: 3px; padding: 1px 1px; }
.sent .q { outline: 2px solid #222; }
.how { color: #555; font-size: 0.9em; font-style: italic; margin: 0.2em 0 0.6em; }
.finding { background: #f3f7ff; border-left: 4px solid #4c78a8; padding: 0.4em 0.8em; }
.cmp { border-collapse: collapse; font-size: 0.92em; }
.cmp td, .cmp th { border-top: 1px solid #e3e3e3; padding: 5px 10px; vertical-align: top; text-align: left; }
.fig { border: 1px solid #e3e3e3; border-radius: 8px; padding: 0.6em 1.2em; margin: 1.2em 0; }
"""


def class_grid(records: list[dict], n_layers: int, n_heads: int) -> str:
    """The layer x head grid, each cell coloured by class and labelled (offset for positional)."""
    cells = {(r["layer"], r["head"]): r for r in records}
    head = "<tr><th></th>" + "".join(f"<th>H{h}</th>" for h in range(n_heads)) + "</tr>"
    rows = []
    for layer in range(n_layers):
        tds = []
        for h in range(n_heads):
            r = cells.get((layer, h))
            if r is None:
                tds.append("<td></td>")
                continue
            label = r["head_class"][:3] + (f" {r['offset']}" if r.get("offset") is not None else "")
            tds.append(f"<td style='background:{html.escape(CLASS_COLORS[r['head_class']])}' "
                       f"title='L{layer}H{h}: {html.escape(str(r['head_class']))}'>{html.escape(label)}</td>")
        rows.append(f"<tr><th>L{layer}</th>{''.join(tds)}</tr>")
    legend = " · ".join(f"<span style='color:{html.escape(c)}'>■</span> {html.escape(k)}"
                        for k, c in CLASS_COLORS.items())
    return f"<table class='grid'>{head}{''.join(rows)}</table><div class='meta'>{legend}</div>"


def highlighted_sentence(tokens: list[str], pattern: Float[Tensor, "q k"], query: int, start: int = 0) -> str:
    """The paragraph (from token ``start``) with ``tokens[query]`` boxed and each earlier token
    shaded by its attention (darkest = the most attended)."""
    weights = pattern[query, : query + 1].float()
    scale = float(weights.max()) or 1.0
    out = ["… "] if start > 0 else []
    for i, tok in list(enumerate(tokens[: query + 1]))[start:]:
        # WordPiece continuations join the previous piece; everything else starts a new word.
        piece, sep = (tok[2:], "") if tok.startswith("##") else (tok, " " if i else "")
        alpha = float(weights[i]) / scale
        style = f" style='background:rgba(228,87,86,{alpha:.2f})'" if alpha >= 0.02 else ""
        cls = " class='q'" if i == query else ""
        out.append(f"{sep}<span{cls}{style} title='{float(weights[i]):.2f}'>{html.escape(piece)}</span>")
    return f"<div class='sent'>{''.join(out)}</div>"


def is_word(token: str) -> bool:
    """Whether a token (of :func:`text_tokens`, maybe ``##``-glued) starts with a letter or digit."""
    return token.removeprefix("##")[:1].isalnum()


def pick_query(pattern: Float[Tensor, "q k"], tokens: list[str], *, far: int = 3) -> int:
    """The word token (second half of the text) whose attention beyond ``far`` tokens back is most
    concentrated on one key: where a semantic head's choice is easiest to see."""
    n = pattern.shape[0]
    best, best_score = n - 1, -1.0
    for q in range(n // 2, n):
        if not is_word(tokens[q]) or q <= far + 1:  # keys 1 .. q - far - 1 must not be empty
            continue
        score = float(pattern[q, 1: q - far].max())
        if score > best_score:
            best, best_score = q, score
    return best


def offset_bars(argmax_offsets: list[float], width: int = 190, height: int = 46) -> str:
    """Inline SVG of a head's argmax-offset histogram: bars for offsets 0, -1, ..., -16, then far."""
    n = len(argmax_offsets)
    bw = width / n
    bars = "".join(
        f"<rect x='{i * bw:.1f}' y='{height - 12 - v * (height - 14):.1f}' width='{bw - 1:.1f}' "
        f"height='{v * (height - 14):.1f}' fill='{'#bab0ac' if i == n - 1 else '#4c78a8'}'>"
        f"<title>{'far/first' if i == n - 1 else -i}: {v:.2f}</title></rect>"
        for i, v in enumerate(argmax_offsets))
    labels = (f"<text x='0' y='{height}' font-size='9'>0</text>"
              f"<text x='{bw * (n - 1.5):.0f}' y='{height}' font-size='9' text-anchor='end'>-16</text>"
              f"<text x='{width}' y='{height}' font-size='9' text-anchor='end'>far</text>")
    return f"<svg width='{width}' height='{height}' role='img'>{bars}{labels}</svg>"


def precision_histograms(a: list[float], b: list[float], labels: tuple[str, str], *, bins: int = 10,
                         width: int = 300, height: int = 90) -> str:
    """Inline SVG: the share of units per precision bin (0 ... 1) for two bases, side by side."""
    colors = ("#4c78a8", "#f58518")
    edges = np.linspace(0, 1, bins + 1)
    shares = [np.histogram(np.asarray(x), bins=edges)[0] / max(len(x), 1) for x in (a, b)]
    top = max(float(max(s.max() for s in shares)), 1e-9)
    bw = width / bins
    bars = []
    for j, (share, color) in enumerate(zip(shares, colors, strict=True)):
        for i, v in enumerate(share):
            h = v / top * (height - 26)
            bars.append(f"<rect x='{i * bw + j * bw / 2:.1f}' y='{height - 14 - h:.1f}' width='{bw / 2 - 1:.1f}' "
                        f"height='{h:.1f}' fill='{color}'><title>{html.escape(labels[j])}, precision {edges[i]:.1f}-"
                        f"{edges[i + 1]:.1f}: {v:.0%}</title></rect>")
    legend = "".join(f"<rect x='{8 + j * 110}' y='0' width='9' height='9' fill='{c}'/>"
                     f"<text x='{20 + j * 110}' y='9' font-size='10'>{html.escape(labels[j])}</text>"
                     for j, c in enumerate(colors))
    axis = (f"<text x='0' y='{height}' font-size='9'>precision 0</text>"
            f"<text x='{width}' y='{height}' font-size='9' text-anchor='end'>1</text>")
    return f"<svg width='{width}' height='{height}' role='img'>{legend}{''.join(bars)}{axis}</svg>"


def top_examples(card: dict, n: int = 3) -> str:
    """A unit's ``n`` top-activating tokens (of ``analysis.cards.unit_card``), each highlighted in its sentence."""
    esc = lambda s: html.escape(s).replace("\n", " ")  # noqa: E731
    return "".join(f"<div class='sent'>…{esc(before)}<mark style='--a:0.8'>{esc(token)}</mark>{esc(after)}… "
                   f"<span class='meta'>({value:.2f})</span></div>"
                   for value, before, token, after, *_ in card["top"][:n])
