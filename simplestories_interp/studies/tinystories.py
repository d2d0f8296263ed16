"""Reproduce the TinyStories paper's interpretability figures (Eldan & Li 2023, Sec. 5).

* Fig. 19 and 20: positional (distance-based) and semantic heads of a 1-layer model on a paragraph
  with two named characters looking for an object and going to a place, and a "compared with the
  paper" box (measured in :mod:`.paper_heads`, drawn in :mod:`.paper_heads_pages`);
* Fig. 21: top-activating tokens of neurons 0 and 1 of the penultimate layer, neuron 0 of the
  layer before, and the single highest-activating neuron, with the role that explains each, and
  (the paper's claim is comparative) the role precision of every layer's neurons against a random
  orthogonal basis of the same layer (``analysis.basis_control``), drawn in :mod:`.tinystories_pages`.

The study runs on the :mod:`.study` skeleton: this module measures every number into
``results.json`` (heads, the shown heads' attention on the paragraph, the neurons' roles, the
shown neurons' examples as cards, the basis comparison); every page, ``summary.txt`` and the JSON
files (``heads.json``, ``neuron_roles.json``, ``neuron_control.json``) are rendered from it, so
they rebuild without a model. Offline it runs on the shipped models; any loadable model can be
passed, including the paper's own (``roneneldan/TinyStories-1Layer-21M``,
``roneneldan/TinyStories-1M``) when online.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tqdm.auto import tqdm

from simplestories_interp.analysis.basis_control import compare_bases
from simplestories_interp.analysis.cards import unit_card
from simplestories_interp.data.rows import build_rows
from simplestories_interp.studies.config import FigureConfig
from simplestories_interp.studies.paper_heads import measure_heads
from simplestories_interp.studies.study import Study, run_study, with_settings
from simplestories_interp.studies.tinystories_pages import index_page, pages, summary_text
from simplestories_interp.zoo.loading import load_model, require_loadable


def tinystories_figures(cfg: FigureConfig | None = None, **settings) -> Path:
    """Write every figure, ``index.html``, ``summary.txt`` and ``results.json`` into ``cfg.out``; return the folder."""
    return run_study(STUDY, with_settings(cfg, FigureConfig, settings))


def _measure(cfg: FigureConfig, out: Path, device) -> dict:
    heads = measure_heads(cfg, device)
    return {"config": dataclasses.asdict(cfg), "heads": heads, "neurons": measure_neurons(cfg, device)}


def _picks(tops, n_layers: int) -> list[tuple[int, int, str]]:
    """Fig. 21's neurons: (layer, unit, why shown)."""
    penult = max(0, n_layers - 2)
    best_layer = max(range(n_layers), key=lambda la: float(tops[la].max_per_unit.max()))
    return [(penult, 0, "neuron 0 of the penultimate layer"), (penult, 1, "neuron 1 of the penultimate layer"),
            (max(0, penult - 1), 0, "neuron 0 of another layer"),
            (best_layer, int(tops[best_layer].max_per_unit.argmax()), "the highest-activating neuron")]


def measure_neurons(cfg: FigureConfig, device) -> dict:
    """Every layer's neurons against a random orthogonal basis, every neuron's role, and the cards
    (examples, histogram, logit effect) of the four neurons Fig. 21 shows."""
    model = load_model(cfg.neuron_model, device=device)
    n_layers = model.cfg.n_layers
    rows = build_rows(cfg.data, model.tokenizer, model.cfg.n_ctx, cfg.neuron_stories)
    comparisons = [compare_bases(model, layer, rows) for layer in tqdm(range(n_layers), desc="neurons")]
    tops, explanations = [c.top for c in comparisons], [c.neuron_explanations for c in comparisons]
    picks = []
    for layer, unit, why in _picks(tops, n_layers):
        ex = explanations[layer][unit]
        picks.append({"layer": layer, "unit": unit, "why": why, "role": ex.describe(),
                      "card": unit_card(tops[layer], unit, model=model, explanation=ex,
                                              title=f"Layer {layer}, neuron {unit} — {why}")})
    return {"model": cfg.neuron_model, "rows": rows.describe(), "n_tokens": int(rows.tokens.size),
            "n_stories": len(rows.stories), "role_source": rows.role_source, "picks": picks,
            "roles": {c.hook: [{**vars(e), "shown_role": e.shown_role} for e in c.neuron_explanations]
                      for c in comparisons},
            "control": [c.as_dict() for c in comparisons]}


STUDY = Study("tinystories", check=lambda cfg: require_loadable(cfg.head_model, cfg.neuron_model), measure=_measure,
              summary=summary_text, index=index_page, files=pages, shared_js=True)
