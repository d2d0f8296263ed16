"""The ``ssi`` command: a thin layer over the Python API.

Each subcommand's options are derived from a typed dataclass config (field docstrings become
the help text). Errors the library raises on bad input (:mod:`simplestories_interp.errors`)
are printed as one line and exit with status 2; ``--traceback`` (or ``SSI_TRACEBACK=1``)
shows the full traceback instead. Heavy imports (torch, TransformerLens) happen only in the
subcommands that need them, so ``ssi zoo`` is instant.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from simplestories_interp import zoo
from simplestories_interp.analysis.config import CacheConfig, HeadConfig, NeuronConfig
from simplestories_interp.data.config import StatsConfig, SynthConfig
from simplestories_interp.dataclass_args import add_dataclass_args, build_config, merge_model_forms
from simplestories_interp.errors import DataError, InvalidArgumentError, SSIError, did_you_mean
from simplestories_interp.explore.config import ExploreConfig
from simplestories_interp.files import atomic_write_text, require_utf8
from simplestories_interp.sae.config import (
    SAEConfig,
    SAEEvalConfig,
    SAEFeaturesConfig,
    SAESweepConfig,
)
from simplestories_interp.studies.registry import STUDIES
from simplestories_interp.training.config import NoLNConfig, TrainRunConfig
from simplestories_interp.zoo.config import GenerateConfig, InfoConfig, ZooConfig
from simplestories_interp.zoo.listing import run_info, run_zoo
from simplestories_interp.zoo.registry import DEFAULT_MODEL


def run_generate(args: GenerateConfig) -> None:
    from simplestories_interp.zoo.loading import load_model
    from simplestories_interp.zoo.sampling import generate

    model = load_model(args.model, device=args.device, dtype=args.dtype)
    print(generate(model, args.prompt, max_new_tokens=args.max_new_tokens,
                   temperature=args.temperature, seed=args.seed))


def run_train(args: TrainRunConfig) -> None:
    from simplestories_interp.training.trainer import train

    out = train(args.train_config(), resume=args.resume, command="ssi " + " ".join(sys.argv[1:]))
    print(f"model written to {out}")


def run_synth(args: SynthConfig) -> None:
    from simplestories_interp.data.corpus.synthetic import write_shards
    from simplestories_interp.files import claim_output

    with claim_output(args.out, "story corpus") as out:
        paths = write_shards(args.n_stories, args.seed, out, args.shard_size, seed_per_shard=args.seed_per_shard)
    print(f"wrote {args.n_stories} stories in {len(paths)} shard(s) to {args.out}")


def run_stats(args: StatsConfig) -> None:
    from simplestories_interp.data.corpus.diversity import diversity_report

    if args.length_stories:  # a bad --tokenizer is refused before the minute of statistics
        from simplestories_interp.data.tokenizer import load_tokenizer
        from simplestories_interp.zoo.loading import resolve

        tokenizer = load_tokenizer(resolve(args.tokenizer or DEFAULT_MODEL).directory)
    report = diversity_report(args.n_stories, args.seed)
    if args.length_stories:
        from simplestories_interp.data.corpus.diversity import token_lengths

        report["token_lengths"] = {kind: token_lengths(f"{kind}:{args.seed}", tokenizer, args.length_stories)
                                   for kind in ("synthetic", "synthetic-long")}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for key, value in report.items():
        print(f"{key}: {value}")


def run_cache(args: CacheConfig) -> None:
    from simplestories_interp.analysis.activations import cache_activations
    from simplestories_interp.zoo.loading import load_model

    if args.verify:
        from simplestories_interp.analysis.activations import ActivationStore

        store = ActivationStore(args.out)
        n = store.verify(progress=True)
        print(f"{args.out}: all {n} shard(s) match their recorded sizes and checksums")
        if store.incomplete():
            raise DataError(store.incomplete())
        return
    model = load_model(args.model, device=args.device)
    store = cache_activations(model, args.hooks, args.out, source=args.data, n_stories=args.n_stories,
                              batch_size=args.batch_size, rows_per_shard=args.rows_per_shard, dtype=args.dtype)
    from simplestories_interp.data.rows import tokenizer_unk_id
    from simplestories_interp.render.views import fmt_or_na

    unk = fmt_or_na(store.unk_rate(tokenizer_unk_id(model.tokenizer)), ".2%")
    print(f"{store.n_tokens} tokens x {', '.join(f'{h} ({store.d(h)})' for h in store.hooks)} in {args.out}, "
          f"[UNK] rate {unk}")


def run_neurons(args: NeuronConfig) -> None:
    from simplestories_interp.analysis.neurons import explain, role_summary, scan
    from simplestories_interp.files import ensure_file_target
    from simplestories_interp.render import views
    from simplestories_interp.zoo.loading import load_model

    # before the scan, not after it
    page = ensure_file_target(args.out, inputs=(args.model, args.data)) if args.out is not None else None
    model = load_model(args.model, device=args.device)
    top = scan(model, args.hook, source=args.data, n_stories=args.n_stories, k=args.k, progress=True)
    print(top.rows.describe())
    explanations = explain(top)
    units = args.units or top.max_per_unit.topk(min(8, top.n_units)).indices.tolist()
    for u in units:
        if not 0 <= u < top.n_units:
            raise InvalidArgumentError(f"unit {u} is out of range: {args.hook} has units 0..{top.n_units - 1}")
        print(views.neuron_text(top, u, explanation=explanations[u]) + "\n")
    print("roles:", role_summary(explanations))
    if page:
        views.write(page, views.neurons_page(top, units, model=model, explanations=explanations,
                                                 title=f"{args.model}: {args.hook}"))
        print(f"page written to {args.out}")


def run_heads(args: HeadConfig) -> None:
    import contextlib

    from simplestories_interp.analysis.heads import as_records, head_statistics, parse_thresholds
    from simplestories_interp.data.rows import build_rows
    from simplestories_interp.files import claim_output
    from simplestories_interp.render.views import fmt_or_na
    from simplestories_interp.zoo.loading import load_model

    thresholds = parse_thresholds(args.thresholds)
    with claim_output(args.out, "head analysis") if args.out is not None else contextlib.nullcontext() as out:
        model = load_model(args.model, device=args.device)
        per_story = args.rows == "story"
        rows = build_rows(args.data, model.tokenizer, model.cfg.n_ctx, args.n_stories, per_document=per_story,
                          pad=True)  # a short file is read whole
        print(rows.describe())
        stats = head_statistics(model, rows, thresholds=thresholds, progress=True)
        print(f"{'head':6} {'class':10} {'offset':>6} {'share':>6} {'first':>6} {'entropy':>7} {'far':>5} "
              f"{'lift':>5}  top role")
        for s in stats:
            off = "" if s.offset is None else s.offset
            print(f"L{s.layer}H{s.head:<3} {s.head_class:10} {off:>6} {s.positional_share:6.2f} "
                  f"{s.first_token:6.2f} {s.entropy:7.2f} {s.far_content:5.2f} {fmt_or_na(s.entity_lift):>5}  "
                  f"{s.top_role or 'none'}")
        if out is not None:
            _write_head_pages(args, model, as_records(stats), out)
            print(f"written to {out}/")


def _write_head_pages(args: HeadConfig, model, records: list[dict], out: Path) -> None:
    from simplestories_interp.analysis.config import DEFAULT_TEXT
    from simplestories_interp.render import views

    atomic_write_text(out / "heads.json", json.dumps(records, indent=1))
    views.write(out / "heads_heatmap.html", views.page(f"Heads of {args.model}", views.heads_heatmap(
        records, model.cfg.n_layers, model.cfg.n_heads)))
    heads = [(r["layer"], r["head"]) for r in records]
    views.write(out / "attention.html", views.page(f"Attention of {args.model}",
                                                    views.attention_view(model, args.text or DEFAULT_TEXT, heads)))


def run_sae_train(args) -> None:
    from simplestories_interp.sae.training import train_sae

    out = train_sae(args)
    print((out / "metrics.json").read_text())
    print(f"SAE written to {out} (sae_lens.SAE.load_from_disk or ssi.load_sae)")


def run_sae_sweep(args: SAESweepConfig) -> None:
    from simplestories_interp.sae.training import train_saes

    keys = ("l0", "explained_variance", "ce_loss_score", "dead_fraction")
    print("\t".join(("sae", *keys)))
    for out in train_saes(args.runs()):
        metrics = json.loads((out / "metrics.json").read_text())
        print("\t".join((out.name, *(f"{metrics[k]:.4f}" for k in keys))))
    print(f"SAEs written to {Path(args.out)}/ (sae_lens.SAE.load_from_disk or ssi.load_sae)")


def run_sae_eval(args: SAEEvalConfig) -> None:
    from simplestories_interp.sae.training import eval_sae

    metrics = eval_sae(args.path, args.model, eval_data=args.eval_data, eval_stories=args.eval_stories,
                       density_stories=args.density_stories, device=args.device)
    print(json.dumps(metrics.as_dict(), indent=2))
    if args.model:
        print(f"(metrics of {args.model} written beside the SAE; metrics.json keeps those of its own model "
              "unless it is the same model)")


def run_sae_features(args: SAEFeaturesConfig) -> None:
    from simplestories_interp.files import ensure_file_target
    from simplestories_interp.render import views
    from simplestories_interp.sae.features import feature_scan

    # before the scan, not after it
    page = ensure_file_target(args.out, inputs=(args.path, args.model, args.data)) if args.out is not None else None
    scan = feature_scan(args.path, model=args.model, features=args.features, data=args.data,
                        n_stories=args.n_stories, device=args.device)
    print(scan.text)
    if page is not None:
        views.write(page, views.cards_page(scan.title, scan.cards))
        print(f"page written to {page}")


def run_explore(args: ExploreConfig) -> None:
    from simplestories_interp.explore.launch import explore

    explore(args)


def run_noln(args) -> None:
    from simplestories_interp.training.noln import remove_norms

    out = remove_norms(args)
    report = json.loads((out / "noln_report.json").read_text())
    for key, value in report.items():
        if key != "sites":
            print(f"{key}: {round(value, 4) if isinstance(value, float) else value}")
    print(f"norm-free model written to {out}")


def _reproduce(name: str) -> Callable:
    def run_reproduce(args) -> None:
        from simplestories_interp.studies.registry import run

        written = run(name, args)
        print(f"report: {written}")
        print((written / "summary.txt").read_text())

    return run_reproduce


COMMANDS: dict[str, tuple[type, Callable]] = {
    "zoo": (ZooConfig, run_zoo),
    "info": (InfoConfig, run_info),
    "generate": (GenerateConfig, run_generate),
    "train": (TrainRunConfig, run_train),
    "data synth": (SynthConfig, run_synth),
    "data stats": (StatsConfig, run_stats),
    "cache": (CacheConfig, run_cache),
    "neurons": (NeuronConfig, run_neurons),
    "heads": (HeadConfig, run_heads),
    **{f"reproduce {name}": (config, _reproduce(name)) for name, (config, _) in STUDIES.items()},
    "explore": (ExploreConfig, run_explore),
    "noln": (NoLNConfig, run_noln),
    "sae train": (SAEConfig, run_sae_train),
    "sae sweep": (SAESweepConfig, run_sae_sweep),
    "sae eval": (SAEEvalConfig, run_sae_eval),
    "sae features": (SAEFeaturesConfig, run_sae_features),
}


class _Parser(argparse.ArgumentParser):
    """argparse without prefix matching (``--max-step`` is not ``--max-steps``) whose errors are one
    line, with close matches for a misspelled option."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        raise _UsageError(f"{message} (see `{self.prog} --help`)")

    def parse_args(self, args=None, namespace=None):
        """As argparse, with close matches among the chosen command's options for an unknown one."""
        ns, extras = self.parse_known_args(args, namespace)
        if extras:
            options = getattr(ns, "_options", [])
            hints = "".join(did_you_mean(x.split("=")[0], options) for x in extras if x.startswith("-"))
            command = f"ssi {ns._command}" if hasattr(ns, "_command") else "ssi"
            raise _UsageError(f"unrecognized arguments: {' '.join(extras)}.{hints} (see `{command} --help`)")
        return ns


class _UsageError(SSIError):
    """A command line argparse refuses."""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="ssi", description="SimpleStories interpretability toolkit.")
    parser.add_argument("--traceback", action="store_true", help="show full tracebacks on errors")
    parser.add_argument("--trust-remote-code", action="store_true",
                        help="let a hub model whose loader needs trust_remote_code run the hub's code (refused "
                             "by default)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    groups: dict[str, argparse._SubParsersAction] = {}
    for name, (config, _) in COMMANDS.items():
        *group, leaf = name.split(" ")
        where = sub
        if group:
            if group[0] not in groups:
                holder = sub.add_parser(group[0], help=f"{group[0]} commands")
                groups[group[0]] = holder.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND",
                                                         parser_class=_Parser)
            where = groups[group[0]]
        doc = (config.__doc__ or "").strip()
        cmd = where.add_parser(leaf, help=doc, description=doc)
        cmd.set_defaults(_command=name)
        add_dataclass_args(cmd, config)
        if _data_field(config):
            cmd.add_argument("--separator", default=None, help="split the --data .txt file into stories at every "
                             "occurrence of this string (default: lines like <|endoftext|>, else blank lines)")
        cmd.set_defaults(_options=[o for action in cmd._actions for o in action.option_strings])
    return parser


def _data_field(config: type) -> str | None:
    """The option naming a command's story source: ``data``, or ``sae.data`` where a study's SAEs read it."""
    fields = {f.name: f for f in dataclasses.fields(config)}
    if "data" in fields:
        return "data"
    nested = fields.get("sae")
    return "sae.data" if nested is not None and nested.metadata.get("nested") else None


def _apply_separator(ns: argparse.Namespace) -> None:
    """``--separator S`` becomes part of the story source string (``FILE.txt::sep=S``), which every
    reader of stories understands."""
    if getattr(ns, "separator", None) is None:
        return
    name = _data_field(COMMANDS[ns._command][0])
    if not hasattr(ns, name):
        flag = "--" + name.replace("_", "-")
        raise InvalidArgumentError(f"--separator needs the story file it applies to: add {flag} FILE.txt")
    from simplestories_interp.data.sources import with_separator

    setattr(ns, name, with_separator(getattr(ns, name), ns.separator))


@contextlib.contextmanager
def _remote_code_allowed(allowed: bool):
    """``--trust-remote-code``: load_model reads SSI_TRUST_REMOTE_CODE, for this command only."""
    before = os.environ.get("SSI_TRUST_REMOTE_CODE")
    if allowed:
        os.environ["SSI_TRUST_REMOTE_CODE"] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("SSI_TRUST_REMOTE_CODE", None)
        else:
            os.environ["SSI_TRUST_REMOTE_CODE"] = before


def _model_names(ns: argparse.Namespace) -> list[str]:
    """Every model a command names (``model``, ``head_model``, ``short_models``, ...)."""
    found = [v for k, v in vars(ns).items() if k == "model" or k.endswith(("_model", "_models"))]
    flat = [n for v in found for n in (v if isinstance(v, list) else [v])]
    return [n for n in flat if isinstance(n, str) and n.lower() != "none"]


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    show_tb = "--traceback" in argv or os.environ.get("SSI_TRACEBACK") == "1"
    warnings.formatwarning = lambda msg, *a, **k: f"ssi: warning: {msg}\n"
    try:
        for arg in argv:
            require_utf8(arg, "command-line argument")
        ns = build_parser().parse_args(argv)
        merge_model_forms(ns)
        for name in _model_names(ns):
            zoo.check_model_name(name)  # a misspelled zoo name fails in well under a second
        with _remote_code_allowed(ns.trust_remote_code):
            _apply_separator(ns)
            config, run = COMMANDS[ns._command]
            run(build_config(config, ns))
    except SSIError as exc:
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
