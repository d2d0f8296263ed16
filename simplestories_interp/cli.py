"""The ``ssi`` command: a thin layer over the Python API.

Each subcommand's options are derived from a typed dataclass config (field docstrings become
the help text). Errors the library raises on bad input (:mod:`simplestories_interp.errors`)
are printed as one line and exit with status 2; ``--traceback`` (or ``SSI_TRACEBACK=1``)
shows the full traceback instead. Heavy imports (torch, TransformerLens) happen only in the
subcommands that need them, so ``ssi zoo`` is instant.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from simple_parsing import ArgumentParser, DashVariant, field

from simplestories_interp import zoo
from simplestories_interp.errors import SSIError


@dataclass
class ZooArgs:
    """List the model zoo."""

    json: bool = False
    """Print JSON records instead of a table."""


@dataclass
class InfoArgs:
    """Show one zoo entry in full."""

    name: str = field(positional=True)
    """Zoo name, e.g. SimpleStories-5M or SimpleStories-1.25M-ctx128-noLN."""


@dataclass
class GenerateArgs:
    """Sample a continuation from any loadable model."""

    model: str = field(positional=True)
    """Zoo name, local model directory or Hugging Face repo id."""
    prompt: str = "Once upon a time"
    """Text to continue."""
    max_new_tokens: int = 60
    """Tokens to sample at most (generation also stops at [EOS], the end of a story)."""
    temperature: float = 1.0
    """Sampling temperature; 0 means greedy decoding."""
    seed: int = 0
    """Random seed, for reproducible samples."""
    device: str | None = None
    """cpu, cuda, cuda:N or mps; default: the best available."""
    dtype: str | None = None
    """float32 (default), bfloat16 or float16."""

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"--max-new-tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ValueError(f"--temperature must be >= 0, got {self.temperature}")


def _fmt_params(n: int) -> str:
    return f"{n / 1e6:.2f}M" if n >= 1e6 else f"{n / 1e3:.0f}k"


def _row(spec: zoo.ModelSpec) -> dict:
    return {
        "name": spec.name, "params": spec.n_params, "layers": spec.n_layers,
        "d_model": spec.d_model, "heads": spec.n_heads, "kv_heads": spec.n_key_value_heads,
        "n_ctx": spec.n_ctx, "norm": spec.normalization, "weights": zoo.weights_location(spec),
    }


def run_zoo(args: ZooArgs) -> None:
    rows = [_row(s) for s in zoo.entries()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    table = [{**r, "params": _fmt_params(r["params"])} for r in rows]
    widths = {k: max(len(k), *(len(str(r[k])) for r in table)) for k in table[0]}
    print("  ".join(k.ljust(w) for k, w in widths.items()))
    for r in table:
        print("  ".join(str(r[k]).ljust(w) for k, w in widths.items()))
    print("\nVariants resolve by name: append -ctxN (context length) and/or -noLN (no norms).")


def run_info(args: InfoArgs) -> None:
    spec = zoo.get_spec(args.name)
    facts = {k: v for k, v in dataclasses.asdict(spec).items() if k != "extra"}
    facts.update(spec.extra)
    facts["rotary_dim"] = spec.rotary_dims
    facts["n_params"] = f"{spec.n_params:,}"
    facts["weights"] = zoo.weights_location(spec)
    width = max(map(len, facts))
    for key, value in facts.items():
        print(f"{key.ljust(width)}  {value}")
    print(f"\nload it: ssi.load_model({spec.name!r})")


def run_generate(args: GenerateArgs) -> None:
    from simplestories_interp.loading import load_model
    from simplestories_interp.sampling import generate

    model = load_model(args.model, device=args.device, dtype=args.dtype)
    print(generate(model, args.prompt, max_new_tokens=args.max_new_tokens,
                   temperature=args.temperature, seed=args.seed))


COMMANDS: dict[str, tuple[type, Callable]] = {
    "zoo": (ZooArgs, run_zoo),
    "info": (InfoArgs, run_info),
    "generate": (GenerateArgs, run_generate),
}


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="ssi", description="SimpleStories interpretability toolkit.",
                            add_option_string_dash_variants=DashVariant.DASH)
    parser.add_argument("--traceback", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (config, _) in COMMANDS.items():
        cmd = sub.add_parser(name, help=(config.__doc__ or "").strip(), description=config.__doc__,
                             add_option_string_dash_variants=DashVariant.DASH)
        cmd.add_arguments(config, dest="args")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    show_tb = "--traceback" in argv or os.environ.get("SSI_TRACEBACK") == "1"
    try:
        ns = build_parser().parse_args(argv)
        COMMANDS[ns.command][1](ns.args)
    except (SSIError, ValueError) as exc:
        if show_tb:
            raise
        print(f"ssi: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ssi: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
