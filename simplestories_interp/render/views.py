"""Standalone, offline views: neuron pages, head heat maps, attention patterns.

Every view is a self-contained HTML file that opens without a network: neuron pages are plain
HTML/CSS with inline SVG histograms (no JavaScript at all, so any number of neurons fit on a
page); the head heat map and attention patterns need plotly's and circuitsvis's JavaScript
(1-4 MB each): a single view inlines it, so the file stands alone; a report of several pages
writes each library once into its folder (:func:`write_shared_js`) and the pages load it with a
relative ``<script src>``, which works offline from ``file://``. Text versions serve terminals
and notebooks.

Units are drawn from their cards (``analysis.cards``: the data of a unit's view); ``neuron_text``
and ``unit_card`` are importable from here too.

Everything shown comes from outside the code (token strings of any vocabulary, the user's text,
model names and paths, hook names), so every string goes into the HTML through
:func:`html.escape` (text and attribute values), and every value given to a script through
:func:`json_for_script`: a vocabulary entry ``</script><script>...`` is shown, never run.
"""

from __future__ import annotations

import html
import json
import math
import re
from pathlib import Path
from uuid import uuid4

from simplestories_interp.analysis.cards import neuron_text, unit_card  # noqa: F401 (neuron_text: re-exported)
from simplestories_interp.analysis.neurons import TopK
from simplestories_interp.analysis.patterns import sentence_patterns
from simplestories_interp.errors import InvalidArgumentError
from simplestories_interp.files import GENERATOR_META, atomic_write_bytes, atomic_write_text
from simplestories_interp.render.thumbnails import CLASS_COLORS

CSS = """
body { font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 2em auto;
       max-width: 1100px; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; }
.unit { border: 1px solid #e3e3e3; border-radius: 8px; padding: 0.8em 1.2em; margin: 1.2em 0; }
.meta { color: #666; font-size: 0.9em; }
.ex { margin: 0.25em 0; font-family: Georgia, serif; }
.ex .act { display: inline-block; width: 4.5em; color: #888; font-family: monospace; font-size: 0.85em; }
mark { background: rgba(255, 120, 0, var(--a)); border-radius: 3px; padding: 0 2px; font-weight: 600; }
details summary { cursor: pointer; color: #36c; font-size: 0.85em; }
details .long { font-family: Georgia, serif; color: #444; background: #fafafa; padding: 0.4em; }
table.logits { border-collapse: collapse; font-size: 0.85em; margin-top: 0.5em; }
table.logits td { padding: 1px 8px; font-family: monospace; }
.cols { display: flex; gap: 2em; flex-wrap: wrap; align-items: flex-start; }
a { color: #36c; }
pre.summary { background: #f6f6f6; padding: 1em; white-space: pre-wrap; }
"""


# The shared JavaScript files of a report folder, by library.
PLOTLY_JS, CIRCUITSVIS_JS = "plotly.min.js", "circuitsvis.js"


# Characters that must not appear raw in JSON inside a script: "</script" ends the element and
# "<!--" or "<script" derail the HTML parser's script states; "&" is escaped too (XHTML, and the
# usual rule), U+2028/U+2029 end lines in older JavaScript. JSON has them only inside strings,
# where the \uXXXX escape means the same character.
_SCRIPT_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_SCRIPT_UNSAFE_RE = re.compile("[<>&\u2028\u2029]")


def json_for_script(value) -> str:
    """``value`` as JSON that is safe to embed in an HTML ``<script>`` element.

    ``<``, ``>``, ``&``, U+2028 and U+2029 are written as ``\\uXXXX`` escapes (JSON allows them
    only inside strings, where the escape means the same character), so no string (a vocabulary
    entry ``</script><script>alert(1)</script>``, a model path ``runs/<b>x</b>``) can close the
    script or open a comment; ``json.loads`` of the result gives ``value`` back.
    """
    return _SCRIPT_UNSAFE_RE.sub(lambda m: _SCRIPT_UNSAFE[m.group()], json.dumps(value, ensure_ascii=False))


def _circuitsvis_bundle() -> Path:
    import circuitsvis

    return Path(circuitsvis.__file__).parent / "dist" / "cdn" / "iife.js"


def write_shared_js(folder: str | Path) -> None:
    """Write plotly's and circuitsvis's bundles once into ``folder`` (for ``shared_js=True`` views)."""
    import plotly.offline

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_text(folder / PLOTLY_JS, plotly.offline.get_plotlyjs())
    atomic_write_bytes(folder / CIRCUITSVIS_JS, _circuitsvis_bundle().read_bytes())


def fmt_or_na(value: float | None, spec: str = ".1f") -> str:
    """``value`` formatted, or "n/a" for an undefined statistic (e.g. entity lift on text without entities)."""
    return "n/a" if value is None else format(value, spec)


def page(title: str, body: str, head: str = "") -> str:
    """A whole HTML page: ``title`` is plain text (escaped here); ``body`` and ``head`` are HTML."""
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'>{GENERATOR_META}<title>{html.escape(title)}</title>"
            f"<style>{CSS}</style>{head}</head><body><h1>{html.escape(title)}</h1>{body}</body></html>")


def write(path: str | Path, content: str) -> Path:
    """Write a page through a temporary file and a rename: a full disk leaves the old page, not half a new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_text(path, content)


def _example(entry: list, scale: float) -> str:
    value, before, token, after, long_before, long_after = entry
    alpha = max(0.08, min(1.0, value / scale)) if scale > 0 else 0.08
    mark = f"<mark style='--a:{alpha:.2f}'>{html.escape(token)}</mark>"
    return (f"<div class='ex'><span class='act'>{value:.3f}</span>{_text(before)}{mark}"
            f"{_text(after)}<details><summary>more context</summary><div class='long'>"
            f"{_text(long_before)}{mark}{_text(long_after)}</div></details></div>")


def _text(s: str) -> str:
    return html.escape(s).replace("\n\n", " ¶ ").replace("\n", " ")


def histogram_svg(histogram: dict, width: int = 360, height: int = 90) -> str:
    """An inline SVG histogram (log-scaled counts) of :func:`histogram_counts`, so pages need no JavaScript."""
    logs = [math.log1p(c) for c in histogram["counts"]]
    heights = [v / max(max(logs), 1e-9) * (height - 14) for v in logs]
    bw = width / len(logs)
    bars = "".join(f"<rect x='{i * bw:.1f}' y='{height - 14 - h:.1f}' width='{bw - 1:.1f}' height='{h:.1f}' "
                   f"fill='#f08c00'/>" for i, h in enumerate(heights))
    labels = (f"<text x='0' y='{height}' font-size='10'>{histogram['lo']:.2f}</text>"
              f"<text x='{width}' y='{height}' font-size='10' text-anchor='end'>{histogram['hi']:.2f}</text>")
    return f"<svg width='{width}' height='{height}' role='img'>{bars}{labels}</svg>"


def render_card(card: dict) -> str:
    """One unit's section from its card (``analysis.cards.unit_card``): examples, histogram, logit effect, role."""
    scale, role = card["max"], ""
    if card["role"] is not None:
        role = f" · {html.escape(card['role'])}"
        if card["role_name"]:  # the role's name in bold (its first mention)
            name = html.escape(card["role_name"])
            role = role.replace(name, f"<b>{name}</b>", 1)
    tops = "".join(_example(e, scale) for e in card["top"])
    quants = "".join(_example(e, scale) for e in card["quantiles"])
    right = (f"<div><div class='meta'>activation histogram ({card['histogram']['n']} sampled tokens, log counts)"
             f"</div>{histogram_svg(card['histogram'])}")
    if card["logits"] is not None:
        best, worst = card["logits"]
        rows = "".join(f"<tr><td>{html.escape(a)}</td><td>{x:+.3f}</td><td>{html.escape(b)}</td><td>{y:+.3f}</td></tr>"
                       for (a, x), (b, y) in zip(best, worst, strict=True))
        right += ("<div class='meta'>direct logit effect (W_out · W_U): promoted | suppressed</div>"
                  f"<table class='logits'>{rows}</table>")
    right += "</div>"
    return (f"<div class='unit' id='unit-{card['unit']}'><h3>{html.escape(card['title'])}</h3>"
            f"<div class='meta'>max activation {scale:.3f}{role}{html.escape(card['note'])}</div>"
            f"<div class='cols'><div style='flex:1;min-width:420px'><h4>top activations</h4>{tops}"
            f"<h4>quantile samples (from high to low)</h4>{quants}</div>{right}</div></div>")


def neuron_section(top: TopK, unit: int, **card) -> str:
    """One unit's section straight from a scan (``analysis.cards.unit_card``'s keywords)."""
    return render_card(unit_card(top, unit, **card))


def cards_page(title: str, cards: list[dict]) -> str:
    """A page of unit sections drawn from their cards (e.g. an SAE's features); ``title`` is plain text."""
    return page(title, "".join(render_card(c) for c in cards))


def neurons_page(top: TopK, units: list[int], *, model=None, explanations=None, title: str = "Neurons",
                 intro: str = "", titles: dict[int, str] | None = None) -> str:
    """A page of :func:`neuron_section` s; ``title``, ``intro`` and ``titles`` are plain text."""
    ex = {e.unit: e for e in explanations or []}
    sections = "".join(neuron_section(top, u, model=model, explanation=ex.get(u),
                                      title=(titles or {}).get(u)) for u in units)
    return page(title, f"<p>{html.escape(intro)}</p>{sections}" if intro else sections)


def class_colorscale(colors: list[str]) -> list[list]:
    """A plotly colour scale of constant bands, one per class: class ``i`` (z = i, with zmin -0.5 and
    zmax n - 0.5) falls in the middle of band i. Each band is two stops of the same colour, in order
    (sorting the stops by position alone would swap the colours at every shared boundary)."""
    n = len(colors)
    return [[position / n, c] for i, c in enumerate(colors) for position in (i, i + 1)]


def heads_heatmap(records: list[dict], n_layers: int, n_heads: int, title: str = "Head classes", *,
                  shared_js: bool = False) -> str:
    """A plotly heat map of layer x head coloured by class; plotly's JavaScript inlined, or loaded
    from the report folder's shared copy (``shared_js``)."""
    import plotly.graph_objects as go

    classes, colors = list(CLASS_COLORS), list(CLASS_COLORS.values())
    z = [[None] * n_heads for _ in range(n_layers)]
    text = [[""] * n_heads for _ in range(n_layers)]
    for r in records:
        z[r["layer"]][r["head"]] = classes.index(r["head_class"])
        label = r["head_class"] + (f" {r['offset']}" if r["offset"] is not None else "")
        text[r["layer"]][r["head"]] = label
    scale = class_colorscale(colors)
    fig = go.Figure(go.Heatmap(z=z, text=text, texttemplate="%{text}", colorscale=scale, zmin=-0.5,
                               zmax=len(classes) - 0.5, showscale=False,
                               x=[f"head {h}" for h in range(n_heads)], y=[f"layer {la}" for la in range(n_layers)]))
    # plotly reads titles as its pseudo-HTML (<b>, <br>, <a>) and decodes entities: escaped, the
    # title shows as typed. Its JSON goes into the page through plotly's own escaping of < > /.
    fig.update_layout(title=html.escape(title), height=120 + 60 * n_layers, yaxis_autorange="reversed",
                      margin={"l": 80, "r": 20, "t": 60, "b": 40})
    legend = " · ".join(f"<span style='color:{html.escape(c)}'>■</span> {html.escape(k)}"
                        for k, c in zip(classes, colors, strict=True))
    return (fig.to_html(full_html=False, include_plotlyjs=PLOTLY_JS if shared_js else True)
            + f"<p class='meta'>{legend}</p>")


def attention_view(model, text: str, heads: list[tuple[int, int]], *, prepend_bos: bool = True,
                   shared_js: bool = False) -> str:
    """circuitsvis attention patterns of the given (layer, head) pairs on ``text``, offline: the
    circuitsvis bundle inlined, or loaded from the report folder's shared copy (``shared_js``)."""
    str_tokens, by_layer = sentence_patterns(model, text, prepend_bos=prepend_bos)
    patterns = [by_layer[layer][h].tolist() for layer, h in heads]
    return patterns_view(str_tokens, patterns, [f"L{layer}H{h}" for layer, h in heads], shared_js=shared_js)


def patterns_view(tokens: list[str], patterns: list[list[list[float]]], names: list[str], *,
                  shared_js: bool = False) -> str:
    """circuitsvis attention patterns already computed (``patterns[i][q][k]``, rows may stop at the
    diagonal): what a study's pages draw from its ``results.json``."""
    n = len(tokens)
    full = [[row + [0.0] * (n - len(row)) for row in p] for p in patterns]
    props = {"attention": full, "tokens": [t.removeprefix("##") for t in tokens], "attentionHeadNames": names}
    return circuitsvis_html("AttentionHeads", props, shared_js=shared_js)


def circuitsvis_html(component: str, props: dict, *, shared_js: bool = False) -> str:
    """A circuitsvis React component rendered offline with ``props`` (plain JSON-able values).

    Classic (not module) scripts, since module scripts from ``file://`` are blocked by browsers;
    the props go through :func:`json_for_script` (circuitsvis's own ``render_local`` pastes raw
    ``json.dumps`` into the script, so a token ``</script>`` would end it).
    """
    if not re.fullmatch(r"[A-Za-z_]\w*", component):
        raise InvalidArgumentError(f"not a circuitsvis component name: {component!r}")
    uid = "circuits-vis-" + uuid4().hex[:13]
    if shared_js:
        bundle = f"<script src='{CIRCUITSVIS_JS}'></script>"
    else:
        # The bundle holds "<script></script>" in a string literal, which would end the inline
        # script: "<\/script" is the same string in JavaScript (and the same pattern in a regex).
        js = re.sub(r"</(?=script)", r"<\\/", _circuitsvis_bundle().read_text(encoding="utf-8"), flags=re.IGNORECASE)
        bundle = f"<script>{js}</script>"
    return (f"<div id='{uid}' style='margin: 15px 0;'></div>{bundle}"
            f"<script>CircuitsVis.render('{uid}', CircuitsVis.{component}, {json_for_script(props)});</script>")
