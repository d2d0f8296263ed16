"""Typed configs of the SAE commands (``ssi sae train|sweep|eval|features``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from itertools import product
from pathlib import Path
from typing import Literal

from simplestories_interp.dataclass_args import check_ranges, positional
from simplestories_interp.errors import ConfigError
from simplestories_interp.zoo.registry import DEFAULT_MODEL

COUNTERPART_COSINE = 0.7
"""Decoder cosine at or above which a feature of another SAE counts as the same direction (a common
choice in feature-universality work; stated with every count that uses it)."""


_ARCH_NAMES = {"batchtopk": "BatchTopK", "topk": "TopK", "jumprelu": "JumpReLU", "standard": "standard (L1)"}


def sae_kind(cfg: dict) -> str:
    """The architecture's name as papers write it, from a config's dict (``results.json``)."""
    return _ARCH_NAMES.get(cfg.get("arch", "batchtopk"), cfg.get("arch"))


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
    context: int | None = None
    """Tokens per row the model reads for on-the-fly activations; default: its n_ctx. A shorter
    context trains the SAE on short-context activations (docs/context_length.md)."""
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
        check_ranges(self, positive=("tokens", "batch_size", "expansion", "k", "dead_tokens", "d_sae", "lr", "context",
                                     "log_every", "checkpoint_every", "eval_stories", "density_stories"),
                     non_negative=("l1", "seed"))
        if self.d_sae is not None and self.arch in ("topk", "batchtopk") and self.k >= self.d_sae:
            raise ConfigError(f"k ({self.k}) must be smaller than d_sae ({self.d_sae})")
        if self.context is not None and self.store is not None:
            raise ConfigError(f"--context {self.context} applies to activations made on the fly; a store's rows "
                              "have the length they were cached with: drop --store or --context")
        if self.tokens < self.batch_size:
            raise ConfigError(f"--tokens ({self.tokens}) must be at least one batch (--batch-size {self.batch_size}): "
                              "fewer tokens would save an untrained SAE; raise --tokens or lower --batch-size")


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
        check_ranges(self, positive=("ks", "expansions", "lrs"), non_negative=("l1s",))
        if not self.out.strip():
            raise ConfigError("--out must name a folder (each SAE goes to a subfolder of it), got ''")
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
class SAEEvalConfig:
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

    def __post_init__(self) -> None:
        check_ranges(self, positive=("eval_stories", "density_stories"))


@dataclass
class SAEFeaturesConfig:
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

    def __post_init__(self) -> None:
        check_ranges(self, positive=("n_stories",), non_negative=("features",))
