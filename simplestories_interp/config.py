"""Typed configs of the experiment commands, kept free of heavy imports.

The CLI derives its options from these dataclasses (field docstrings are the help), and it
must stay fast to start, so nothing here imports torch or TransformerLens.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from itertools import product
from pathlib import Path
from typing import Literal

from simplestories_interp.cli_args import positional
from simplestories_interp.zoo import DEFAULT_MODEL

DEFAULT_HEAD_MODEL = "SynthStories-1L"
# Our own paragraph of the same shape as the paper's Fig. 19/20 example.
DEFAULT_TEXT = (
    "One day, Lily and Max went to the park to look for a red ball. Lily said, \"Max, can you "
    "see the ball?\" Max looked under the big tree, but the ball was not there. Then Lily saw "
    "the ball near the pond. She ran to the pond and picked up the ball. Max and Lily played "
    "with the ball in the park until it was time to go home."
)


@dataclass
class FigureConfig:
    """Reproduce the TinyStories head and neuron figures as an offline HTML report."""

    out: str = "report"
    """Output directory (index.html, one HTML file per figure, summary.txt)."""
    head_model: str = DEFAULT_HEAD_MODEL
    """Model for the head figures (the paper used a 1-layer model)."""
    neuron_model: str = DEFAULT_MODEL
    """Model for the neuron figure (the paper used a ~1M-parameter, 8-layer model)."""
    text: str = DEFAULT_TEXT
    """Paragraph shown in the attention figures (any text)."""
    data: str = "synthetic:2023"
    """Story source for the statistics (annotated roles need the synthetic corpus)."""
    neuron_stories: int = 50
    """Stories scanned for the neuron figure (~8k tokens on the synthetic corpus)."""
    head_stories: int = 60
    """Stories over which head statistics are computed."""
    device: str | None = None
    """cpu, cuda, mps; default: the best available."""

    def __post_init__(self) -> None:
        if self.neuron_stories < 1 or self.head_stories < 1:
            raise ValueError("--neuron-stories and --head-stories must be positive")


@dataclass
class SAEConfig:
    """Train a sparse autoencoder (SAELens) on one hook of a model."""

    model: str = DEFAULT_MODEL
    """Zoo name, model directory or hub repo id."""
    hook: str = "blocks.1.hook_resid_post"
    """Hook to train on, e.g. blocks.1.hook_resid_post or blocks.2.mlp.hook_post."""
    arch: Literal["batchtopk", "topk", "jumprelu", "standard"] = "batchtopk"
    """SAE architecture (SAELens): batchtopk and topk fix L0 = k; jumprelu and standard use --l1."""
    d_sae: int | None = None
    """Number of features; default: expansion x the hook's width."""
    expansion: int = 16
    """d_sae / d_in when --d-sae is not given."""
    k: int = 32
    """Active features per token (topk) or on average (batchtopk)."""
    l1: float = 5.0
    """Sparsity coefficient: L1 for standard, L0 for jumprelu."""
    tokens: int = 2_000_000
    """Training tokens (activation vectors)."""
    lr: float = 1e-3
    """Adam learning rate (constant after a short warm-up; SAELens's default scheduler)."""
    batch_size: int = 4096
    """Activation vectors per step."""
    dead_tokens: int = 400_000
    """A feature silent for this many training tokens counts as dead; TopK/BatchTopK's auxiliary
    loss then trains it on the residual (SAELens's window is 1000 steps, ~4M tokens: too late here)."""
    out: str = "sae"
    """Output directory (SAELens format + metrics.json + metrics.jsonl + checkpoints)."""
    store: str | None = None
    """Activation store to train from (ssi cache); default: activations made on the fly."""
    data: str = "synthetic"
    """Story source for on-the-fly activations."""
    eval_data: str = "synthetic:9999"
    """Held-out story source for the metrics (CE loss score, KL, explained variance)."""
    eval_stories: int = 100
    """Held-out stories for the metrics."""
    density_stories: int = 3000
    """Held-out stories (~450k tokens) over which features must fire not to count as dead."""
    log_every: int = 50
    """Steps between metrics.jsonl records."""
    checkpoint_every: int = 200
    """Steps between checkpoints (atomic)."""
    resume: bool = False
    """Continue an interrupted run in --out."""
    seed: int = 0
    """Seed for initialisation and shuffling."""
    device: str | None = None
    """cpu, cuda, mps; default: the best available."""
    wandb: bool = False
    """Log to Weights & Biases through SAELens (off by default)."""
    sparse: bool = True
    """TopK/BatchTopK: the sparse training step (SAELens's loss and gradients, ~6x faster on CPU)."""

    def __post_init__(self) -> None:
        if self.tokens <= 0:
            raise ValueError(f"--tokens must be positive, got {self.tokens}")
        if self.batch_size <= 0 or self.expansion <= 0 or self.k <= 0 or self.dead_tokens <= 0:
            raise ValueError("--batch-size, --expansion, --k and --dead-tokens must be positive")
        if self.d_sae is not None and self.d_sae <= 0:
            raise ValueError(f"--d-sae must be positive, got {self.d_sae}")
        if self.d_sae is not None and self.arch in ("topk", "batchtopk") and self.k >= self.d_sae:
            raise ValueError(f"k ({self.k}) must be smaller than d_sae ({self.d_sae})")
        if self.lr <= 0 or self.l1 < 0:
            raise ValueError("--lr must be positive and --l1 non-negative")


@dataclass
class SAESweepConfig(SAEConfig):
    """Train several SAEs in one pass over the activations: every combination of the lists given.

    Each SAE goes to OUT/<hook>-<arch>-k<k>-<size>-lr<lr>; unlisted settings are shared.
    """

    hooks: list[str] | None = None
    """Hooks to train on (default: --hook); a store must hold them all."""
    archs: list[Literal["batchtopk", "topk", "jumprelu", "standard"]] | None = None
    """Architectures (default: --arch)."""
    ks: list[int] | None = None
    """Values of k for topk/batchtopk (default: --k)."""
    l1s: list[float] | None = None
    """Sparsity coefficients for jumprelu/standard (default: --l1)."""
    expansions: list[int] | None = None
    """d_sae / d_in values (default: --expansion; ignored with --d-sae)."""
    lrs: list[float] | None = None
    """Learning rates (default: --lr)."""

    def __post_init__(self) -> None:
        self.runs()  # each combination validates itself (the base --k may not be one of them)

    def runs(self) -> list[SAEConfig]:
        """One SAEConfig per combination, each with its own output directory."""
        base = {f.name: getattr(self, f.name) for f in fields(SAEConfig)}
        runs = []
        for hook, arch, exp, lr in product(self.hooks or [self.hook], self.archs or [self.arch],
                                          self.expansions or [self.expansion], self.lrs or [self.lr]):
            sparsity = [("k", k) for k in self.ks or [self.k]] if arch in ("topk", "batchtopk") else \
                [("l1", c) for c in self.l1s or [self.l1]]
            size = f"d{self.d_sae}" if self.d_sae else f"x{exp}"
            for name, value in sparsity:
                out = Path(self.out) / f"{hook}-{arch}-{name}{value:g}-{size}-lr{lr:g}"
                runs.append(SAEConfig(**{**base, "hook": hook, "arch": arch, "expansion": exp, "lr": lr,
                                         name: value, "out": str(out)}))
        return runs


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
    """Peak fine-tuning learning rate (warm-up, then cosine to 0.1x)."""
    eval_batches: int = 16
    """Micro-batches in each validation loss."""
    bf16: bool = False
    """bfloat16 autocast during fine-tuning."""
    seed: int = 0
    """Data order seed."""
    device: str | None = None
    """cpu, cuda, mps; default: the best available."""

    def __post_init__(self) -> None:
        if min(self.steps_per_site, self.batch_size, self.micro_batch_size, self.n_stories) <= 0 or self.final_steps < 0:
            raise ValueError("steps, batch sizes and n_stories must be positive")
        if self.batch_size % self.micro_batch_size:
            raise ValueError(f"batch_size ({self.batch_size}) must be a multiple of micro_batch_size ({self.micro_batch_size})")
