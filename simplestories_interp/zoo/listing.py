"""``ssi zoo`` and ``ssi info``: the model zoo as a table, and one entry (or model folder) in full.

Zoo names are answered from the registry alone, without loading torch; a model folder is read
with the loader's own config reader.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from simplestories_interp import zoo
from simplestories_interp.zoo.config import InfoConfig, ZooConfig


def _fmt_params(n: int) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.0f}k"


def _row(spec: zoo.ModelSpec) -> dict:
    return {
        "name": spec.name, "params": spec.n_params, "layers": spec.n_layers,
        "d_model": spec.d_model, "heads": spec.n_heads, "kv_heads": spec.n_key_value_heads,
        "n_ctx": spec.n_ctx, "norm": spec.normalization, "weights": zoo.weights_location(spec),
    }


def run_zoo(args: ZooConfig) -> None:
    rows = [_row(s) for s in zoo.entries()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    table = [{**r, "params": _fmt_params(r["params"])} for r in rows]
    widths = {k: max(len(k), *(len(str(r[k])) for r in table)) for k in table[0]}
    print("  ".join(k.ljust(w) for k, w in widths.items()))
    for r in table:
        print("  ".join(str(r[k]).ljust(w) for k, w in widths.items()))
    print("\nVariants resolve by name: append -ctxN (context length), -abspos (learned positions) and/or "
          "-noLN (no norms).")


def run_info(args: InfoConfig) -> None:
    directory = Path(args.name).expanduser()
    if directory.is_dir():  # a model folder: its own spec, not a zoo entry
        from simplestories_interp.zoo.loading import ModelDir, read_spec

        spec, weights = read_spec(ModelDir(directory)), f"local: {directory}"
    else:
        spec = zoo.get_spec(args.name)
        weights = zoo.weights_location(spec)
    facts = {k: v for k, v in dataclasses.asdict(spec).items() if k != "extra"}
    facts.update(spec.extra)
    facts["rotary_dim"] = spec.rotary_dims
    facts["n_params"] = f"{spec.n_params:,}"
    facts["weights"] = weights
    width = max(map(len, facts))
    for key, value in facts.items():
        print(f"{key.ljust(width)}  {value}")
    if weights == "not trained yet":  # loading would fail: say how to get weights instead
        print(f"\ntrain it: ssi train --model {spec.name} --out runs/{spec.name} (docs/training.md)")
    else:
        print(f"\nload it: ssi.load_model({str(directory) if directory.is_dir() else spec.name!r})")
