"""Typed configs of the studies (``ssi reproduce tinystories``, ``context-length``, ``norm-free``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from simplestories_interp.analysis.config import DEFAULT_TEXT, POSITION_BUCKETS
from simplestories_interp.dataclass_args import check_ranges, nested
from simplestories_interp.errors import ConfigError
from simplestories_interp.sae.config import COUNTERPART_COSINE, SAEConfig
from simplestories_interp.zoo.registry import DEFAULT_HEAD_MODEL, DEFAULT_MODEL, DEFAULT_NEURON_MODEL, NORM_FREE_SUFFIX

__all__ = ["DEFAULT_HEAD_MODEL", "DEFAULT_NEURON_MODEL", "DEFAULT_TEXT", "POSITION_BUCKETS"]  # re-exported

LONG_CONTEXT_MODEL = "SynthStories-1.25M-long"
SHORT_CONTEXT_MODELS = ("SynthStories-1.25M-long-ctx64", "SynthStories-1.25M-long-ctx128")
STUDY_SETS = ("model", "out", "context", "resume", "store", "eval_data", "eval_stories", "density_stories", "device",
              "wandb")
"""Settings of a study's SAEs that the study fixes itself (not options of ``reproduce``)."""

@dataclass
class FigureConfig:
    """Reproduce the TinyStories head and neuron figures as an offline HTML report."""

    out: str = "report"
    """Output directory (index.html, one HTML file per figure, summary.txt)."""
    head_model: str = DEFAULT_HEAD_MODEL
    """Model for the head figures (the paper used a 1-layer model of hidden size 1024, as the default;
    SynthStories-1L is the 256-wide RoPE model trainable on a CPU)."""
    head_rows: Literal["story", "packed"] = "story"
    """story: head statistics over one story per row from position 0, as the paper reads stories;
    packed: rows of n_ctx tokens as in training, earlier stories in view."""
    neuron_model: str = DEFAULT_NEURON_MODEL
    """Model for the neuron figure (the paper used a ~1M-parameter, 8-layer model of hidden size 64, the
    default's shape; SynthStories-1.25M is the 4-layer alternative, docs/neurons.md compares them)."""
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
        check_ranges(self, positive=("neuron_stories", "head_stories"))


@dataclass
class ContextLengthConfig:
    """The context-length study: loss by position, short-context SAEs by position, late-only features."""

    out: str = "context_length"
    """Output directory (index.html, summary.txt, results.json, late_features.html, the SAEs)."""
    model: str = LONG_CONTEXT_MODEL
    """The full-context model (its SAEs, and the longest line of the loss figure); the default is
    SynthStories-1.25M fine-tuned on a mix with long stories (models/train_all.sh)."""
    short_models: list[str] = field(default_factory=lambda: list(SHORT_CONTEXT_MODELS))
    """Shorter-context models compared by loss (run by sliding window); ``none`` for none."""
    windows: list[int] = field(default_factory=lambda: [64, 128, 512])
    """Context windows (tokens) the SAEs are trained on; the longest must not exceed the model's n_ctx."""
    sae: SAEConfig = nested(lambda: SAEConfig(hook="blocks.2.hook_resid_pre", tokens=1_000_000, k=16, expansion=8,
                                              data="synthetic-long"), exclude=STUDY_SETS)
    """The SAEs, one per window, all with these settings (``--sae.k``, ``--sae.tokens``, ...; the study
    sets their model, context, evaluation data and folder). Their ``data`` is read in packed rows of each window."""
    eval_data: str = "synthetic-long:9999"
    """Held-out long stories (one row per story, positions = positions in the story)."""
    eval_stories: int = 200
    """Held-out stories for the loss by position (stories shorter than the model's context are skipped)."""
    sae_eval_stories: int = 100
    """Held-out stories for the SAE metrics by position and the late-feature search."""
    boundary: int = 128
    """Position from which a feature counts as late (a bucket edge: 64, 128 or 256)."""
    late_share: float = 0.9
    """A late feature has at least this share of its per-token activation mass beyond --boundary."""
    counterpart_cosine: float = COUNTERPART_COSINE
    """Decoder cosine at or above which a shorter-window SAE's feature counts as the same feature."""
    device: str | None = None
    """cpu, cuda, mps; default: the best available."""

    def __post_init__(self) -> None:
        check_ranges(self, positive=("windows", "eval_stories", "sae_eval_stories", "boundary"),
                     fraction=("late_share", "counterpart_cosine"))
        if self.boundary not in {lo for lo, _ in POSITION_BUCKETS[1:]}:
            raise ConfigError(f"--boundary must be where a position bucket starts "
                              f"({', '.join(str(lo) for lo, _ in POSITION_BUCKETS[1:])}), got {self.boundary}")
        self.short_models = [m for m in self.short_models if m.lower() != "none"]
        if len(set(self.windows)) < 2:
            raise ConfigError(f"--windows needs at least two different context lengths to compare, got {self.windows}")


@dataclass
class NormFreeConfig:
    """The norm-free study: each model against its RMSNorm-removed twin, on the same tokens."""

    out: str = "norm_free"
    """Output directory (index.html, summary.txt, results.json, the SAEs)."""
    model: str = DEFAULT_MODEL
    """The normalised model (DLA, SAEs, neurons, probes); its twin is ``MODEL-noLN``."""
    head_model: str = "SynthStories-1L"
    """The 1-layer normalised model whose heads are compared with its twin's (``none`` to skip); the
    CPU-trainable one, which has a shipped twin (SynthStories-1L-noLN)."""
    data: str = "synthetic:2023"
    """Held-out annotated stories every measure reads (roles and labels need the synthetic corpus)."""
    stories: int = 300
    """Stories for the loss, the attribution errors, the SAE features' role matches and the probes."""
    neuron_stories: int = 50
    """Stories scanned for neuron role precision (as the neuron figure)."""
    head_stories: int = 60
    """Stories for the head statistics."""
    sae: SAEConfig = nested(lambda: SAEConfig(hook="blocks.2.hook_resid_pre", tokens=1_000_000, k=16, expansion=8,
                                              data="synthetic"), exclude=(*STUDY_SETS, "seed"))
    """The two SAEs, one per model, both with these settings (``--sae.k``, ``--sae.hook``, ...; the study
    sets their model, seed, evaluation data and folder)."""
    f1_threshold: float = 0.5
    """An SAE feature 'has a role' when its best role F1 reaches this."""
    seed: int = 0
    """Seed of the SAEs, the random basis and the probe split."""
    device: str | None = None
    """cpu, cuda, mps; default: the best available."""

    def __post_init__(self) -> None:
        check_ranges(self, positive=("stories", "neuron_stories", "head_stories"),
                     fraction=("f1_threshold",), non_negative=("seed",))
        if self.model.endswith(NORM_FREE_SUFFIX):
            raise ConfigError(f"--model is the normalised model (its twin is MODEL-noLN), got {self.model!r}; "
                              f"try {self.model.removesuffix('-noLN')!r}")
