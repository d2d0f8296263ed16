"""The ``ssi`` command: a thin layer over the Python API.

Each subcommand's options are derived from a typed dataclass config (field docstrings become
the help text). Errors the library raises on bad input (:mod:`simplestories_interp.errors`)
are printed as one line and exit with status 2; ``--traceback`` (or ``SSI_TRACEBACK=1``)
shows the full traceback instead. Heavy imports (torch, TransformerLens) happen only in the
subcommands that need them, so ``ssi zoo`` is instant.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from simplestories_interp import zoo
from simplestories_interp.cli_args import add_dataclass_args, given, positional
from simplestories_interp.config import (
    DEFAULT_HEAD_MODEL,
    FigureConfig,
    NoLNConfig,
    SAEConfig,
    SAESweepConfig,
)
from simplestories_interp.errors import SSIError


@dataclass
class ZooArgs:
    """List the model zoo."""

    json: bool = False
    """Print JSON records instead of a table."""


@dataclass
class InfoArgs:
    """Show one zoo entry in full."""

    name: str = positional()
    """Zoo name, e.g. SimpleStories-5M or SimpleStories-1.25M-ctx128-noLN."""


@dataclass
class GenerateArgs:
    """Sample a continuation from any loadable model."""

    model: str = positional(default=zoo.DEFAULT_MODEL)
    """Zoo name, local model directory or Hugging Face repo id (default: the shipped default model)."""
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


@dataclass
class TrainArgs:
    """Train a model (options override the YAML file given with --config)."""

    config: str | None = None
    """YAML file with TrainConfig keys."""
    resume: bool = False
    """Continue the run in --out from its last checkpoint."""


def run_train(args: TrainArgs, ns: argparse.Namespace) -> None:
    from simplestories_interp.training.config import TrainConfig, load_config
    from simplestories_interp.training.trainer import train

    cfg = load_config(args.config, **given(ns, TrainConfig))
    out = train(cfg, resume=args.resume, command="ssi " + " ".join(sys.argv[1:]))
    print(f"model written to {out}")


@dataclass
class SynthArgs:
    """Write the built-in synthetic corpus as JSON-lines shards."""

    out: str = positional(default="data/synthetic")
    """Output directory."""
    n_stories: int = 10000
    """Stories to write."""
    seed: int = 0
    """Corpus seed (story i of seed s is always the same)."""
    shard_size: int = 10000
    """Stories per shard file."""

    def __post_init__(self) -> None:
        if self.n_stories < 1 or self.shard_size < 1:
            raise ValueError("--n-stories and --shard-size must be positive")


def run_synth(args: SynthArgs) -> None:
    from simplestories_interp.data.synthetic import write_shards

    paths = write_shards(args.n_stories, args.seed, args.out, args.shard_size)
    print(f"wrote {args.n_stories} stories in {len(paths)} shard(s) to {args.out}")


@dataclass
class StatsArgs:
    """Measure the diversity of the synthetic corpus."""

    n_stories: int = 100000
    """Stories to generate and measure."""
    seed: int = 0
    """Corpus seed."""
    json: bool = False
    """Print JSON instead of text."""


def run_stats(args: StatsArgs) -> None:
    from simplestories_interp.data.diversity import diversity_report

    report = diversity_report(args.n_stories, args.seed)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for key, value in report.items():
        print(f"{key}: {value}")


@dataclass
class CacheArgs:
    """Cache hook activations of a model over a corpus into an on-disk store."""

    model: str = positional(default=zoo.DEFAULT_MODEL)
    """Zoo name, model directory or hub repo id."""
    hooks: list[str] = dataclasses.field(default_factory=lambda: ["blocks.1.hook_resid_post"])
    """Hook names, e.g. blocks.2.mlp.hook_post blocks.1.hook_resid_post."""
    out: str = "activations"
    """Store directory (rerun with the same arguments to resume)."""
    data: str = "synthetic"
    """Story source (see docs/data.md)."""
    n_stories: int = 2000
    """Stories to run through the model."""
    batch_size: int = 16
    """Rows per forward pass."""
    rows_per_shard: int = 256
    """Rows of n_ctx tokens per shard file."""
    dtype: str = "float32"
    """Stored dtype: float32, bfloat16 or float16."""
    device: str | None = None
    """cpu, cuda, mps; default: the best available."""


def run_cache(args: CacheArgs) -> None:
    from simplestories_interp.activations import cache_activations
    from simplestories_interp.loading import load_model

    model = load_model(args.model, device=args.device)
    store = cache_activations(model, args.hooks, args.out, source=args.data, n_stories=args.n_stories,
                              batch_size=args.batch_size, rows_per_shard=args.rows_per_shard, dtype=args.dtype)
    print(f"{store.n_tokens} tokens x {', '.join(f'{h} ({store.d(h)})' for h in store.hooks)} in {args.out}")


@dataclass
class NeuronArgs:
    """Top-activating tokens of neurons (or any hook's units), as text and an HTML page."""

    model: str = positional(default=zoo.DEFAULT_MODEL)
    """Zoo name, model directory or hub repo id."""
    hook: str = "blocks.2.mlp.hook_post"
    """Hook whose units to scan (MLP neurons: blocks.L.mlp.hook_post)."""
    units: list[int] | None = None
    """Units to show; default: the 8 with the largest activations."""
    data: str = "synthetic:2023"
    """Story source; the synthetic corpus adds the annotated role of each unit."""
    n_stories: int = 50
    """Stories to scan."""
    k: int = 20
    """Top activations kept per unit."""
    out: str | None = None
    """Write an offline HTML page here."""
    device: str | None = None
    """cpu, cuda, mps; default: the best available."""


def run_neurons(args: NeuronArgs) -> None:
    from simplestories_interp import views
    from simplestories_interp.loading import load_model
    from simplestories_interp.neurons import explain, role_summary, scan

    model = load_model(args.model, device=args.device)
    top = scan(model, args.hook, source=args.data, n_stories=args.n_stories, k=args.k, progress=True)
    explanations = explain(top)
    units = args.units or top.max_per_unit.topk(min(8, top.n_units)).indices.tolist()
    for u in units:
        if not 0 <= u < top.n_units:
            raise ValueError(f"unit {u} is out of range: {args.hook} has units 0..{top.n_units - 1}")
        print(views.neuron_text(top, u, explanation=explanations[u]) + "\n")
    print("roles:", role_summary(explanations))
    if args.out:
        views.write(args.out, views.neurons_page(top, units, model=model, explanations=explanations,
                                                 title=f"{args.model}: {args.hook}"))
        print(f"page written to {args.out}")


@dataclass
class HeadArgs:
    """Classify attention heads (positional / semantic / mixed / sink) over a corpus."""

    model: str = positional(default=DEFAULT_HEAD_MODEL)
    """Zoo name, model directory or hub repo id."""
    data: str = "synthetic:2023"
    """Story source; the synthetic corpus adds entity and role statistics."""
    n_stories: int = 60
    """Stories to run."""
    out: str | None = None
    """Write heads.json, a heat map and attention views into this directory."""
    text: str | None = None
    """Text for the attention views (default: the TinyStories-style paragraph)."""
    device: str | None = None
    """cpu, cuda, mps; default: the best available."""


def run_heads(args: HeadArgs) -> None:
    from simplestories_interp import views
    from simplestories_interp.config import DEFAULT_TEXT
    from simplestories_interp.heads import as_records, head_statistics
    from simplestories_interp.loading import load_model

    model = load_model(args.model, device=args.device)
    stats = head_statistics(model, source=args.data, n_stories=args.n_stories, progress=True)
    print(f"{'head':6} {'class':10} {'offset':>6} {'share':>6} {'first':>6} {'entropy':>7} {'far':>5} {'lift':>5}  top role")
    for s in stats:
        off = "" if s.offset is None else s.offset
        print(f"L{s.layer}H{s.head:<3} {s.head_class:10} {off:>6} {s.positional_share:6.2f} {s.first_token:6.2f} "
              f"{s.entropy:7.2f} {s.far_content:5.2f} {s.entity_lift:5.1f}  {s.top_role or ''}")
    if args.out:

        from simplestories_interp.files import ensure_writable

        out = ensure_writable(args.out)
        (out / "heads.json").write_text(json.dumps(as_records(stats), indent=1))
        views.write(out / "heads_heatmap.html", views.page(f"Heads of {args.model}", views.heads_heatmap(
            as_records(stats), model.cfg.n_layers, model.cfg.n_heads)))
        heads = [(s.layer, s.head) for s in stats]
        views.write(out / "attention.html", views.page(f"Attention of {args.model}",
                                                        views.attention_view(model, args.text or DEFAULT_TEXT, heads)))
        print(f"written to {args.out}/")


def run_sae_train(args) -> None:
    from simplestories_interp.sae import train_sae

    out = train_sae(args)
    print((out / "metrics.json").read_text())
    print(f"SAE written to {out} (sae_lens.SAE.load_from_disk or ssi.load_sae)")


def run_sae_sweep(args: SAESweepConfig) -> None:
    from simplestories_interp.sae import train_saes

    keys = ("l0", "explained_variance", "ce_loss_score", "dead_fraction")
    print("\t".join(("sae", *keys)))
    for out in train_saes(args.runs()):
        metrics = json.loads((out / "metrics.json").read_text())
        print("\t".join((out.name, *(f"{metrics[k]:.4f}" for k in keys))))
    print(f"SAEs written to {args.out}/ (sae_lens.SAE.load_from_disk or ssi.load_sae)")


@dataclass
class SAEEvalArgs:
    """Recompute an SAE's metrics (L0, explained variance, CE loss score, ...) on held-out text."""

    path: str = positional()
    """SAE directory."""
    model: str | None = None
    """Model to splice it into; default: the one recorded with the SAE."""
    eval_data: str = "synthetic:9999"
    """Held-out story source."""
    eval_stories: int = 100
    """Held-out stories."""
    density_stories: int = 3000
    """Held-out stories over which features must fire not to count as dead."""
    device: str | None = None
    """cpu, cuda, mps; default: the best available."""


def run_sae_eval(args: SAEEvalArgs) -> None:
    from simplestories_interp.sae import eval_sae

    metrics = eval_sae(args.path, args.model, eval_data=args.eval_data, eval_stories=args.eval_stories,
                       density_stories=args.density_stories, device=args.device)
    print(json.dumps(metrics.as_dict(), indent=2))


@dataclass
class SAEFeatureArgs:
    """Views of SAE features (top contexts, quantiles, logit effects) and their role matches."""

    path: str = positional()
    """SAE directory."""
    model: str | None = None
    """Model; default: the one recorded with the SAE."""
    features: list[int] | None = None
    """Features to show; default: the 8 best role matches."""
    data: str = "synthetic:2023"
    """Story source (the synthetic corpus gives the role matches)."""
    n_stories: int = 60
    """Stories to scan."""
    out: str | None = None
    """Write an offline HTML page here."""
    device: str | None = None
    """cpu, cuda, mps; default: the best available."""


def run_sae_features(args: SAEFeatureArgs) -> None:
    from simplestories_interp.sae_features import feature_report

    print(feature_report(args.path, model=args.model, features=args.features, data=args.data,
                         n_stories=args.n_stories, out=args.out, device=args.device))


def run_noln(args) -> None:
    from simplestories_interp.training.noln import remove_norms

    out = remove_norms(args)
    report = json.loads((out / "noln_report.json").read_text())
    print({k: v for k, v in report.items() if k != "sites"})
    print(f"norm-free model written to {out}")


def run_reproduce(args) -> None:
    from simplestories_interp.reproduce import tinystories_figures

    print(f"report: {tinystories_figures(args)}")
    print((Path(args.out) / "summary.txt").read_text())


COMMANDS: dict[str, tuple[type, Callable]] = {
    "zoo": (ZooArgs, run_zoo),
    "info": (InfoArgs, run_info),
    "generate": (GenerateArgs, run_generate),
    "train": (TrainArgs, run_train),
    "data synth": (SynthArgs, run_synth),
    "data stats": (StatsArgs, run_stats),
    "cache": (CacheArgs, run_cache),
    "neurons": (NeuronArgs, run_neurons),
    "heads": (HeadArgs, run_heads),
    "reproduce tinystories": (FigureConfig, run_reproduce),
    "noln": (NoLNConfig, run_noln),
    "sae train": (SAEConfig, run_sae_train),
    "sae sweep": (SAESweepConfig, run_sae_sweep),
    "sae eval": (SAEEvalArgs, run_sae_eval),
    "sae features": (SAEFeatureArgs, run_sae_features),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ssi", description="SimpleStories interpretability toolkit.")
    parser.add_argument("--traceback", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    groups: dict[str, argparse._SubParsersAction] = {}
    for name, (config, _) in COMMANDS.items():
        *group, leaf = name.split(" ")
        where = sub
        if group:
            if group[0] not in groups:
                holder = sub.add_parser(group[0], help=f"{group[0]} commands")
                groups[group[0]] = holder.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
            where = groups[group[0]]
        doc = (config.__doc__ or "").strip()
        cmd = where.add_parser(leaf, help=doc, description=doc)
        cmd.set_defaults(_command=name)
        add_dataclass_args(cmd, config)
        if name == "train":
            from simplestories_interp.training.config import TrainConfig

            add_dataclass_args(cmd, TrainConfig)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    show_tb = "--traceback" in argv or os.environ.get("SSI_TRACEBACK") == "1"
    warnings.formatwarning = lambda msg, *a, **k: f"ssi: warning: {msg}\n"
    try:
        ns = build_parser().parse_args(argv)
        config, run = COMMANDS[ns._command]
        args = config(**given(ns, config))
        run(args, ns) if run is run_train else run(args)
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
