"""Reproduce the TinyStories paper's interpretability figures (Eldan & Li 2023, Sec. 5).

* Fig. 19 and 20: positional (distance-based) and semantic heads of a 1-layer model on a paragraph
  with two named characters looking for an object and going to a place, and a "compared with the
  paper" box (:mod:`.paper_heads`);
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
from pathlib import Path

from tqdm.auto import tqdm

from simplestories_interp.analysis.basis_control import LayerComparison, compare_bases
from simplestories_interp.analysis.hooks import layer_of
from simplestories_interp.data.rows import build_rows
from simplestories_interp.files import atomic_write_text, claim_output
from simplestories_interp.render import thumbnails as th
from simplestories_interp.render import views
from simplestories_interp.studies.config import FigureConfig
from simplestories_interp.studies.paper_heads import Report, head_figures, page
from simplestories_interp.zoo.loading import load_model, require_loadable


def _control_table(comparisons: list[LayerComparison]) -> str:
    head = ("<tr><th>layer</th><th>semantic roles: neurons</th><th>random basis</th><th>token-identity roles: "
            "neurons</th><th>random basis</th><th>semantic precision per unit</th></tr>")
    rows = []
    for c in comparisons:
        cell = lambda g: f"{g.share_above:.0%} ({g.units_above}) · mean {g.mean_precision:.2f}"  # noqa: E731
        hist = th.precision_histograms(c.neurons["semantic"].precisions, c.random["semantic"].precisions,
                                       ("neurons", "random basis"))
        rows.append(f"<tr><td>{layer_of(c.hook)}</td><td>{cell(c.neurons['semantic'])}</td>"
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
    views.write(out / "fig21_neurons.html", page(
        "Fig. 21 — top-activating tokens of MLP neurons",
        f"<p>Model {views.html.escape(cfg.neuron_model)}; {rows.tokens.size} tokens of {len(rows.stories)} "
        "stories. Each line is a "
        f"top-activating token (highlighted) in its sentence.</p>{''.join(sections)}"
        f"<h2>Neurons vs a random orthogonal basis</h2><p>{finding}</p>{control}"))
    table = {f"blocks.{la}.mlp.hook_post": [{**vars(e), "shown_role": e.shown_role} for e in explanations[la]]
             for la in range(n_layers)}
    atomic_write_text(out / "neuron_roles.json", json.dumps(table, indent=1))
    atomic_write_text(out / "neuron_control.json", json.dumps([c.as_dict() for c in comparisons], indent=1))
    for c in comparisons:
        n, r = c.neurons, c.random
        report.notes.append(
            f"  layer {layer_of(c.hook)}: units with a role at precision >= {c.threshold}: semantic "
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
    require_loadable(cfg.head_model, cfg.neuron_model)
    with claim_output(cfg.out, "report") as out:
        return _write_report(cfg, out)


def _write_report(cfg: FigureConfig, out: Path) -> Path:
    views.write_shared_js(out)
    report = Report()
    head_figures(cfg, out, report)
    report.notes.append("")
    _neuron_figure(cfg, out, report)
    summary = "\n".join(report.notes)
    atomic_write_text(out / "summary.txt", summary + "\n")
    files = ("summary.txt", "heads.json", "neuron_roles.json", "neuron_control.json")
    links = " · ".join(f"<a href='{f}'>{f}</a>" for f in files)
    esc = views.html.escape
    body = (f"<p class='meta'>Heads: {esc(cfg.head_model)} · neurons: {esc(cfg.neuron_model)} · "
            f"data: {esc(cfg.data)}. "
            f"Every number: {links}.</p>" + "".join(report.sections))
    views.write(out / "index.html", page("TinyStories interpretability figures, reproduced", body))
    return out / "index.html"
