"""Which neuron model reproduces the TinyStories paper's Fig. 21 claim better?

The paper (Eldan & Li 2023, Sec. 5.2, Fig. 21) shows MLP neurons of a ~1M-parameter, 8-layer
model of hidden size 64 with clear roles, picked by index (neurons 1 and 2 of the penultimate
layer, neuron 1 of the layer before) and the single highest-activating neuron; the claim is
comparative (the neuron basis is privileged). This script measures, for each model, the paper's
four picks with their roles and, per layer, the neuron basis against random orthogonal bases of
the same layer (``analysis.basis_control``, several seeds): units whose best semantic role reaches
precision 0.8, and token-identity roles apart.

    python experiments/neuron_models.py --models SynthStories-1.25M SynthStories-1M-paper --out neuron_models/

Output: ``results.json`` (every number) and ``table.md`` (the docs table).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import simplestories_interp as ssi
from simplestories_interp.analysis.basis_control import compare_bases
from simplestories_interp.data.rows import build_rows


def picks(comparisons) -> list[dict]:
    """The paper's Fig. 21 picks: neurons 0 and 1 of the penultimate layer, 0 of the layer before, and
    the highest-activating neuron, each with its role."""
    n_layers = len(comparisons)
    penult = max(0, n_layers - 2)
    tops = [c.top for c in comparisons]
    best = max(range(n_layers), key=lambda la: float(tops[la].max_per_unit.max()))
    chosen = [(penult, 0, "penultimate #0"), (penult, 1, "penultimate #1"), (max(0, penult - 1), 0, "layer before #0"),
              (best, int(tops[best].max_per_unit.argmax()), "highest-activating")]
    return [{"layer": la, "unit": u, "why": why, "role": comparisons[la].neuron_explanations[u].shown_role,
             "describe": comparisons[la].neuron_explanations[u].describe()} for la, u, why in chosen]


def measure(name: str, n_stories: int, seeds: list[int]) -> dict:
    model = ssi.load_model(name, device="cpu")
    rows = build_rows("synthetic:2023", model.tokenizer, model.cfg.n_ctx, n_stories)
    layers, first = [], []
    for layer in range(model.cfg.n_layers):
        runs = [compare_bases(model, layer, rows, seed=seed) for seed in seeds]
        first.append(runs[0])
        layers.append({"layer": layer, "units": model.cfg.d_mlp,
                       "semantic_neurons": runs[0].neurons["semantic"].units_above,
                       "semantic_random": [r.random["semantic"].units_above for r in runs],
                       "token_neurons": runs[0].neurons["token"].units_above,
                       "token_random": [r.random["token"].units_above for r in runs],
                       "neuron_roles": runs[0].neurons["semantic"].by_role})
    sem = np.array([la["semantic_neurons"] for la in layers])
    rand = np.array([la["semantic_random"] for la in layers])
    return {"model": name, "n_layers": model.cfg.n_layers, "d_model": model.cfg.d_model, "d_mlp": model.cfg.d_mlp,
            "positions": model.cfg.positional_embedding_type, "tokens_scanned": rows.n_tokens, "seeds": seeds,
            "layers": layers, "picks": picks(first),
            "semantic_share_neurons": float(sem.sum() / (len(layers) * model.cfg.d_mlp)),
            "semantic_share_random": float(rand.mean(1).sum() / (len(layers) * model.cfg.d_mlp)),
            "layers_neurons_beat_every_seed": int((sem > rand.max(1)).sum())}


def table(results: list[dict]) -> str:
    lines = ["| model | layer | semantic: neurons | semantic: random (seeds) | token-identity: neurons | "
             "token-identity: random (seeds) |", "|---|---|---|---|---|---|"]
    for r in results:
        for la in r["layers"]:
            lines.append(f"| {r['model']} | {la['layer']} | {la['semantic_neurons']} | "
                         f"{' / '.join(map(str, la['semantic_random']))} | {la['token_neurons']} | "
                         f"{' / '.join(map(str, la['token_random']))} |")
    lines += ["", "| model | semantic share: neurons | random (mean of seeds) | layers where neurons beat every seed | "
              "Fig. 21 picks (role) |", "|---|---|---|---|---|"]
    for r in results:
        picked = "; ".join(f"L{p['layer']} N{p['unit']} {p['why']}: {p['role'] or 'none'}" for p in r["picks"])
        lines.append(f"| {r['model']} | {r['semantic_share_neurons']:.3f} | {r['semantic_share_random']:.3f} | "
                     f"{r['layers_neurons_beat_every_seed']} of {r['n_layers']} | {picked} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["SynthStories-1.25M", "SynthStories-1M-paper"])
    parser.add_argument("--n-stories", type=int, default=50, help="stories scanned (the report's default)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="random-basis seeds")
    parser.add_argument("--out", default="neuron_models", help="results.json and table.md")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = [measure(name, args.n_stories, args.seeds) for name in args.models]
    (out / "results.json").write_text(json.dumps(results, indent=1))
    (out / "table.md").write_text(table(results))
    print(table(results))


if __name__ == "__main__":
    main()
