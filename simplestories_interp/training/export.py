"""What a training run starts from and what it leaves behind.

Before the loop: the architecture (:func:`resolve_spec`: a zoo entry plus n_ctx /
normalisation overrides, or the model a fine-tune starts from) and the tokenizer
(:func:`prepare_tokenizer`: given, inherited, or trained on the data by the recipe).
After it: the model directory (:func:`export_model`: HF Llama format for RMS models, which
``transformers`` loads too, native format for norm-free ones) with a model card.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import sys
from pathlib import Path

from simplestories_interp import zoo
from simplestories_interp.data.sources import iter_stories
from simplestories_interp.data.tokenizer import load_tokenizer, save_tokenizer, train_tokenizer
from simplestories_interp.training.config import TrainConfig, tokens_seen
from simplestories_interp.training.model import Llama, load_pretrained, to_hf_state, to_tl_state
from simplestories_interp.zoo.formats import save_hf, save_native
from simplestories_interp.zoo.registry import ModelSpec


def resolve_spec(cfg: TrainConfig) -> tuple[ModelSpec, dict | None]:
    """The architecture to train and, when fine-tuning, the starting weights (Llama names)."""
    if cfg.init_from:
        return _init_spec(cfg)
    spec = zoo.get_spec(cfg.model)
    return spec.variant(n_ctx=cfg.n_ctx, normalization=cfg.normalization, positional=cfg.positional), None


def _init_spec(cfg: TrainConfig) -> tuple[ModelSpec, dict]:
    model, _ = load_pretrained(cfg.init_from, n_ctx=cfg.n_ctx)
    return model.spec, model.state_dict()


def prepare_tokenizer(cfg: TrainConfig, spec: ModelSpec, run: Path, d) -> object:
    """The fixed tokenizer for this run; trains and saves one in RUN/tokenizer if needed."""
    from simplestories_interp.zoo.loading import resolve

    if cfg.tokenizer or cfg.init_from:
        return load_tokenizer(resolve(cfg.tokenizer or cfg.init_from).directory)
    target = run / "tokenizer"
    if d.main and not (target / "tokenizer.json").is_file():
        texts = tokenizer_stories(cfg.data, cfg.n_stories, cfg.val_fraction)
        save_tokenizer(train_tokenizer(texts, vocab_size=cfg.vocab_size or spec.d_vocab), target)
    d.barrier()
    return load_tokenizer(target)


def tokenizer_stories(data: str, n_stories: int | None, val_fraction: float) -> list[str]:
    """The stories a run's tokenizer is trained on: the training split exactly as :func:`.packing.pack`
    will cut it from the stories actually read (a file shorter than ``n_stories`` included), so no
    held-out story shapes the vocabulary."""
    from simplestories_interp.data.packing import n_val_stories

    stories = list(iter_stories(data, limit=n_stories))
    return stories[:len(stories) - n_val_stories(len(stories), val_fraction)]


def export_model(raw: Llama, spec: ModelSpec, tokenizer, out: Path, cfg: TrainConfig, run: Path,
                 command: str | None, meta) -> Path:
    """Write the final model directory with its tokenizer and model card."""
    hub_style = _hub_style_tokenizer(cfg, run, tokenizer)
    records = _records(run)
    tokens = tokens_seen(cfg.max_steps, cfg.batch_size, spec.n_ctx)
    base = base_tokens(cfg.init_from) if cfg.init_from else 0
    training = {"config": dataclasses.asdict(cfg), "data": dataclasses.asdict(meta),
                "final": {"train_loss": _last(records, "loss"), "val_loss": _last(records, "val_loss"),
                          "steps": cfg.max_steps, "tokens": tokens,
                          "total_tokens": None if base is None else base + tokens},
                "command": command}
    if cfg.init_from:
        training["base"] = {"model": cfg.init_from, "tokens": base}
    if spec.hf_expressible:
        save_hf(to_hf_state(raw), spec, out, tokenizer=hub_style, training=training)
    else:
        from simplestories_interp.zoo.loading import build_model

        model = build_model(spec, to_tl_state(raw), tokenizer, device="cpu")
        save_native(model, out, tokenizer=hub_style, training=training)
    card = model_card(out, spec, cfg, run, command, meta)
    (out / "README.md").write_text(card)
    return out


def base_tokens(model: str) -> int | None:
    """Tokens the model ``model`` was trained on in all (its ``training_config.json``), None if unknown."""
    from simplestories_interp.zoo.formats import TRAINING_CONFIG
    from simplestories_interp.zoo.loading import resolve

    path = resolve(model).directory / TRAINING_CONFIG
    if not path.is_file():
        return None
    final = json.loads(path.read_text()).get("final", {})
    return final["total_tokens"] if "total_tokens" in final else final.get("tokens")


def _hub_style_tokenizer(cfg: TrainConfig, run: Path, fixed):
    """Save the tokenizer as the hub files have it (with the [EOS]-appending post-processor)."""
    from simplestories_interp.zoo.loading import resolve

    given = cfg.tokenizer or cfg.init_from
    directory = resolve(given).directory if given else run / "tokenizer"
    return load_tokenizer(directory, fix=False) if (directory / "tokenizer.json").is_file() else fixed


def _records(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line]


def _last(records: list[dict], key: str):
    return next((r[key] for r in reversed(records) if r.get(key) is not None), None)


def model_card(out: Path, spec: ModelSpec, cfg: TrainConfig, run: Path, command: str | None, meta) -> str:
    from simplestories_interp.zoo.loading import load_model
    from simplestories_interp.zoo.sampling import generate

    records = _records(run)
    model = load_model(out, device="cpu")
    samples = [generate(model, p, max_new_tokens=60, temperature=0.7, seed=i) for i, p in enumerate(cfg.samples)]
    command = command or "ssi train " + shlex.join(sys.argv[1:])
    tokens = tokens_seen(cfg.max_steps, cfg.batch_size, spec.n_ctx)
    fmt = "HF Llama (config.json)" if spec.hf_expressible else "native (ssi_config.json)"
    # A fine-tuned model carries its base's spec; it is named after its run folder, not the base.
    name = Path(cfg.out).name if cfg.init_from else spec.name
    base = []
    if cfg.init_from:
        before = base_tokens(cfg.init_from)
        total = "unknown (the base model records no token count)" if before is None else f"{before + tokens:,}"
        seen = "an unknown number of" if before is None else f"{before:,}"
        base = [f"| base | fine-tuned from `{cfg.init_from}` ({seen} tokens); the training row is the fine-tuning |",
                f"| total tokens seen | {total} |"]
    lines = [
        f"# {name}",
        "",
        f"A {spec.n_params:,}-parameter Llama-style model trained with `simplestories_interp`.",
        "",
        "| | |", "|---|---|", *base,
        f"| architecture | {spec.n_layers} layers, d_model {spec.d_model}, {spec.n_heads} heads "
        f"(d_head {spec.d_head}, {spec.n_key_value_heads} KV heads), d_mlp {spec.d_mlp}, "
        f"d_vocab {spec.d_vocab}, n_ctx {spec.n_ctx}, normalisation {spec.normalization}, "
        f"{spec.positional} positions |",
        f"| data | `{meta.source.replace('|', '&#124;')}`: {meta.n_stories:,} stories, {meta.tokens:,} tokens "
        f"({meta.unk_tokens} [UNK]), {meta.rows['train']:,} train / {meta.rows['val']:,} val rows |",
        f"| training | {cfg.max_steps:,} steps x {cfg.batch_size} rows = {tokens:,} tokens, "
        f"lr {cfg.lr:g} (warm-up, cosine to {cfg.min_lr_ratio:g}x), AdamW, seed {cfg.seed}"
        f"{', unscaled attention scores (folded into W_Q)' if cfg.attn_scale == 'none' else ''} |",
        f"| final train loss | {_fmt(_last(records, 'loss'))} |",
        f"| final val loss | {_fmt(_last(records, 'val_loss'))} |",
        f"| format | {fmt} + tokenizer.json |",
        "",
        "## Reproduce", "", "```bash", command, "```", "",
        "## Load", "", "```python", "import simplestories_interp as ssi",
        f"model = ssi.load_model({name!r})  # once under models/ or $SSI_MODELS_PATH as {name}/",
        f"model = ssi.load_model({str(out)!r})  # or by directory", "```", "",
        "## Samples (temperature 0.7)", "",
        *[f"> {s}\n" for s in samples],
    ]
    return "\n".join(lines)


def _fmt(x) -> str:
    return "n/a" if x is None else f"{x:.4f}"
