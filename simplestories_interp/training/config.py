"""The training configuration: one typed dataclass, from YAML and/or CLI flags.

Defaults are the SimpleStories recipe (AdamW 0.9/0.95, weight decay 0.1 on tensors with two
or more dimensions, linear warm-up then cosine decay to 0.1 x lr, gradient clipping at 1.0,
batch 64, seed 42). ``load_config`` reads a YAML file, applies overrides, and rejects
misspelled keys with close matches, so a typo never silently trains the wrong thing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml

from simplestories_interp.dataclass_args import check_ranges, config_values, positional
from simplestories_interp.errors import ConfigError
from simplestories_interp.files import atomic_write_text
from simplestories_interp.zoo.registry import DEFAULT_MODEL


@dataclass
class TrainConfig:
    """Everything a training run needs; saved as ``config.yaml`` in the run directory."""

    model: str = "SimpleStories-1.25M"
    """Zoo name of the architecture (e.g. SimpleStories-5M, SynthStories-1L)."""
    n_ctx: int | None = None
    """Context length; default: the zoo entry's."""
    normalization: Literal["rms", "none"] | None = None
    """Override the entry's normalisation: rms or none (no norm layers)."""
    positional: Literal["rotary", "absolute"] | None = None
    """Override the entry's positions: rotary (RoPE) or absolute (learned position embeddings, as the
    TinyStories paper's GPT-Neo models; such models are saved in the native format)."""
    attn_scale: Literal["standard", "none"] = "standard"
    """Attention scores while training: standard (divided by sqrt(d_head)) or none (unscaled, as in
    GPT-Neo and so the TinyStories paper's models). The function class is the same -- the export
    folds sqrt(d_head) into W_Q, so the saved model is a standard HookedTransformer -- but under Adam
    the unscaled QK circuit learns sqrt(d_head) times faster: a training-dynamics choice."""
    init: Literal["normal", "zero-residual"] = "normal"
    """Initialisation: the recipe's normal(0, 0.02), or ``zero-residual``: the same with the attention
    and MLP output projections at zero, so every block starts as the identity (Fixup, Zhang et al.
    2019; ReZero, Bachlechner et al. 2020): a stabiliser for training without norms."""
    data: str = "synthetic"
    """Story source: synthetic[:SEED], hub[:REPO], or a .txt/.jsonl/.parquet file or folder."""
    n_stories: int | None = 20000
    """Stories to read from the source (required for the endless synthetic corpus)."""
    val_fraction: float = 0.01
    """Share of the stories held out for validation."""
    init_from: str | None = None
    """Model (zoo name or directory) whose weights start the run, to fine-tune instead of init."""
    tokenizer: str | None = None
    """Tokenizer directory or model directory; default: train one on the data by the recipe."""
    vocab_size: int | None = None
    """Vocabulary of a newly trained tokenizer; default: the architecture's d_vocab."""
    out: str = "runs/model"
    """Run directory: checkpoints, metrics.jsonl and the final model in OUT/model."""
    batch_size: int = 64
    """Global batch in rows (of n_ctx tokens) per optimiser step, across all processes."""
    micro_batch_size: int | None = None
    """Rows per forward pass; batch_size / (micro_batch_size * world size) steps are accumulated."""
    max_steps: int = 1000
    """Optimiser steps."""
    lr: float = 1e-4
    """Peak learning rate."""
    min_lr_ratio: float = 0.1
    """Cosine decay ends at lr * min_lr_ratio."""
    warmup_steps: int = 600
    """Linear warm-up steps (capped at a tenth of max_steps)."""
    weight_decay: float = 0.1
    """AdamW weight decay on tensors with >= 2 dims (embedding included)."""
    beta1: float = 0.9
    """AdamW beta1."""
    beta2: float = 0.95
    """AdamW beta2."""
    grad_clip: float = 1.0
    """Gradient norm clipping (0 disables)."""
    seed: int = 42
    """Seed for initialisation and data order."""
    eval_every: int = 100
    """Steps between validation losses."""
    eval_batches: int = 8
    """Micro-batches per validation loss."""
    checkpoint_every: int = 200
    """Steps between checkpoints (written atomically)."""
    keep_checkpoints: int = 2
    """Checkpoints kept on disk."""
    log_every: int = 10
    """Steps between metrics.jsonl records."""
    device: str | None = None
    """cpu, cuda, mps; default: the best available."""
    bf16: bool = False
    """bfloat16 autocast for the forward pass."""
    compile: bool = False
    """torch.compile the model."""
    threads: int | None = None
    """CPU threads (default: torch's choice)."""
    wandb: bool = False
    """Log to Weights & Biases (off by default)."""
    wandb_project: str = "simplestories_interp"
    """W&B project name."""
    samples: list[str] = field(default_factory=lambda: ["Once upon a time", "One day, a little girl named"])
    """Prompts sampled for the model card."""

    def __post_init__(self) -> None:
        check_ranges(self, positive=("batch_size", "micro_batch_size", "max_steps", "eval_every", "eval_batches",
                                     "checkpoint_every", "keep_checkpoints", "log_every", "lr", "threads",
                                     "vocab_size"),
                     non_negative=("warmup_steps", "weight_decay", "grad_clip", "seed"),
                     fraction=("min_lr_ratio",), below_one=("beta1", "beta2"))
        if self.n_ctx is not None and self.n_ctx < 2:
            raise ConfigError(f"n_ctx must be at least 2, got {self.n_ctx}")
        if self.n_stories is not None and self.n_stories < 2:
            raise ConfigError(f"n_stories must be at least 2, got {self.n_stories}")
        if not 0 <= self.val_fraction < 1:
            raise ConfigError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.micro_batch_size is not None and self.batch_size % self.micro_batch_size:
            raise ConfigError(
                f"batch_size ({self.batch_size}) must be a multiple of micro_batch_size "
                f"({self.micro_batch_size}) so that gradient accumulation divides it"
            )
        if self.normalization not in (None, "rms", "none"):
            raise ConfigError(f"normalization must be rms or none, got {self.normalization!r}")
        if self.attn_scale not in ("standard", "none"):
            raise ConfigError(f"attn_scale must be standard or none, got {self.attn_scale!r}")
        if self.init not in ("normal", "zero-residual"):
            raise ConfigError(f"init must be normal or zero-residual, got {self.init!r}")
        if self.positional not in (None, "rotary", "absolute"):
            raise ConfigError(f"positional must be rotary or absolute, got {self.positional!r}")


def tokens_seen(steps: int, batch_size: int, n_ctx: int) -> int:
    """Tokens a run has trained on after ``steps`` steps of ``batch_size`` rows: each row of ``n_ctx`` tokens
    gives ``n_ctx - 1`` next-token targets. The one count used by the log, checkpoints, card and noln report."""
    return steps * batch_size * (n_ctx - 1)


def load_config(path: str | Path | None = None, **overrides) -> TrainConfig:
    """A TrainConfig from a YAML file (optional) with keyword overrides on top."""
    return TrainConfig(**config_values(TrainConfig, path, {k: v for k, v in overrides.items() if v is not None}))


def save_config(config: TrainConfig, path: Path) -> None:
    atomic_write_text(path, yaml.safe_dump(dataclasses.asdict(config), sort_keys=False))


@dataclass
class TrainRunConfig(TrainConfig):
    """Train a model (options override the YAML file given with --config)."""

    config: str | None = None
    """YAML file with TrainConfig keys (options given on the command line override it)."""
    resume: bool = field(default=False, metadata={"command_only": True})
    """Continue the run in --out from its last checkpoint."""

    def train_config(self) -> TrainConfig:
        """The run's TrainConfig (what is saved as ``config.yaml``), without the command's own options."""
        return TrainConfig(**{f.name: getattr(self, f.name) for f in dataclasses.fields(TrainConfig)})


@dataclass
class NoLNConfig:
    """Remove the RMSNorm layers of a model by fine-tuning (Heimersheim 2024, for RMSNorm)."""

    model: str = positional(default=DEFAULT_MODEL)
    """Model to make norm-free (any RMS model: zoo name, directory or hub id)."""
    out: str = "noln"
    """Output model directory (native format)."""
    data: str = "synthetic:1"
    """Story source for fine-tuning and the validation loss."""
    n_stories: int = 40000
    """Stories to pack."""
    steps_per_site: int = 20
    """Fine-tuning steps between freezing one norm site and the next."""
    final_steps: int = 300
    """Fine-tuning steps after the last site is frozen."""
    batch_size: int = 32
    """Rows per step."""
    micro_batch_size: int = 16
    """Rows per forward pass (gradient accumulation)."""
    lr: float = 5e-4
    """Peak fine-tuning learning rate (the trainer's schedule: warm-up, then cosine decay)."""
    warmup_steps: int = 20
    """Linear warm-up steps (capped at a tenth of the fine-tuning steps)."""
    min_lr_ratio: float = 0.1
    """Cosine decay ends at lr * min_lr_ratio."""
    eval_batches: int = 16
    """Micro-batches in each validation loss."""
    bf16: bool = False
    """bfloat16 autocast during fine-tuning."""
    seed: int = 0
    """Data order seed."""
    device: str | None = None
    """cpu, cuda, mps; default: the best available."""

    def __post_init__(self) -> None:
        check_ranges(self, positive=("steps_per_site", "batch_size", "micro_batch_size", "n_stories", "lr",
                                     "eval_batches"),
                     non_negative=("final_steps", "warmup_steps", "seed"), fraction=("min_lr_ratio",))
        if self.batch_size % self.micro_batch_size:
            raise ConfigError(f"batch_size ({self.batch_size}) must be a multiple of micro_batch_size "
                              f"({self.micro_batch_size})")

