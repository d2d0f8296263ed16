"""The TinyStories study's pages, ``summary.txt`` and JSON files, rendered from its ``results.json`` alone.

The head figures come from :mod:`.paper_heads_pages`; this module adds the neuron figure (Fig. 21:
the shown neurons' cards, and every layer's neurons against a random orthogonal basis), the
summary, the index that shows every figure inline, and the list of files a run writes, so
``rebuild_pages(folder, STUDY)`` redraws all of it in seconds with no model.
"""

from __future__ import annotations

import html
import json

from simplestories_interp.analysis.hooks import layer_of
from simplestories_interp.render import thumbnails as th
from simplestories_interp.render import views
from simplestories_interp.studies.paper_heads_pages import (
    HeadFigures,
    head_files,
    head_notes,
    head_sections,
    page,
    section,
)

NUMBER_FILES = ("results.json", "summary.txt", "heads.json", "neuron_roles.json", "neuron_control.json")


def _cell(group: dict) -> str:
    return f"{group['share_above']:.0%} ({group['units_above']}) · mean {group['mean_precision']:.2f}"


def control_table(control: list[dict]) -> str:
    """Per layer: units with a role above the threshold, neurons vs the random basis, and the histograms."""
    head = ("<tr><th>layer</th><th>semantic roles: neurons</th><th>random basis</th><th>token-identity roles: "
            "neurons</th><th>random basis</th><th>semantic precision per unit</th></tr>")
    rows = []
    for c in control:
        n, r = c["neurons"], c["random"]
        hist = th.precision_histograms(n["semantic"]["precisions"], r["semantic"]["precisions"],
                                       ("neurons", "random basis"))
        rows.append(f"<tr><td>{layer_of(c['hook'])}</td><td>{_cell(n['semantic'])}</td><td>{_cell(r['semantic'])}</td>"
                    f"<td>{_cell(n['token'])}</td><td>{_cell(r['token'])}</td><td>{hist}</td></tr>")
    return f"<table class='logits'>{head}{''.join(rows)}</table>"


def control_finding(neurons: dict) -> str:
    """In how many layers neurons beat the random basis, by kind of role (and where the roles came from)."""
    control = neurons["control"]
    n = len(control)
    sem = sum(c["neurons"]["semantic"]["units_above"] > c["random"]["semantic"]["units_above"] for c in control)
    tok = sum(c["neurons"]["token"]["units_above"] > c["random"]["token"]["units_above"] for c in control)
    t = control[0]["threshold"]
    if not control[0]["semantic_roles"]:
        finding = (f"this text has no semantic role annotations, so only token-identity roles (articles, punctuation, "
                   f"...) are compared: neurons have more units with such a role at precision >= {t} than a random "
                   f"orthogonal basis in {tok} of {n} layers.")
    else:
        finding = (f"neurons have more units with a semantic role at precision >= {t} than a random orthogonal basis "
                   f"in {sem} of {n} layers, and more with a token-identity role in {tok} of {n}.")
    if neurons["role_source"] == "tagger":
        finding += " Roles on this text come from the rule tagger (docs/roles.md), not annotations."
    return finding


def neuron_notes(neurons: dict) -> list[str]:
    notes = [f"Neurons ({neurons['model']}, {neurons['rows']}):"]
    notes += [f"  L{p['layer']} N{p['unit']} ({p['why']}): {p['role']}" for p in neurons["picks"]]
    for c in neurons["control"]:
        n, r = c["neurons"], c["random"]
        notes.append(
            f"  layer {layer_of(c['hook'])}: units with a role at precision >= {c['threshold']}: semantic "
            f"{n['semantic']['units_above']} neurons vs {r['semantic']['units_above']} random directions, "
            f"token-identity {n['token']['units_above']} vs {r['token']['units_above']} (of "
            f"{len(neurons['roles'][c['hook']])}); neurons by role {n['semantic']['by_role']} {n['token']['by_role']}")
    return notes + ["  " + control_finding(neurons)]


def neuron_section(neurons: dict) -> str:
    """Fig. 21 on the index: each shown neuron's top tokens in their sentence, and the basis table."""
    thumbs = "".join(f"<div><b>L{p['layer']} N{p['unit']}</b> <span class='meta'>{html.escape(p['why'])}; "
                     f"{html.escape(p['role'])}</span>{th.top_examples(p['card'])}</div>" for p in neurons["picks"])
    return section("Fig. 21 — neurons, and neurons vs random directions",
                   "each neuron's top-activating tokens, highlighted in their sentence; the table compares every "
                   "layer's neurons with a random orthogonal basis of the same layer (same tokens, top-20, roles): "
                   "share of units whose best role reaches the precision threshold, semantic roles (names, "
                   "objects, places, actions, speakers) apart from token-identity ones (articles, punctuation).",
                   thumbs + control_table(neurons["control"]), control_finding(neurons), "fig21_neurons.html")


def neuron_page(neurons: dict) -> str:
    """fig21_neurons.html: the shown neurons' full sections and the basis comparison."""
    sections = "".join(views.render_card(p["card"]) for p in neurons["picks"])
    return page("Fig. 21 — top-activating tokens of MLP neurons",
                f"<p>Model {html.escape(neurons['model'])}; {neurons['n_tokens']} tokens of {neurons['n_stories']} "
                f"stories. Each line is a top-activating token (highlighted) in its sentence.</p>{sections}"
                f"<h2>Neurons vs a random orthogonal basis</h2><p>{html.escape(control_finding(neurons))}</p>"
                f"{control_table(neurons['control'])}")


def summary_text(results: dict) -> str:
    notes = head_notes(HeadFigures(results["heads"])) + [""] + neuron_notes(results["neurons"])
    return "\n".join(notes) + "\n"


def index_page(results: dict) -> str:
    cfg, esc = results["config"], html.escape
    links = " · ".join(f"<a href='{f}'>{f}</a>" for f in NUMBER_FILES)
    body = (f"<p class='meta'>Heads: {esc(cfg['head_model'])} · neurons: {esc(cfg['neuron_model'])} · "
            f"data: {esc(cfg['data'])}. Every number: {links}.</p>"
            + "".join(head_sections(HeadFigures(results["heads"]))) + neuron_section(results["neurons"]))
    return page("TinyStories interpretability figures, reproduced", body)


def pages(results: dict) -> dict[str, str]:
    """Every further file of the folder: the interactive figures and the JSON tables."""
    neurons = results["neurons"]
    return {**head_files(HeadFigures(results["heads"])), "fig21_neurons.html": neuron_page(neurons),
            "neuron_roles.json": json.dumps(neurons["roles"], indent=1),
            "neuron_control.json": json.dumps(neurons["control"], indent=1)}
