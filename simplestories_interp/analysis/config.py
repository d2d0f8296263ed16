"""Typed configs of the analysis commands (``ssi cache``, ``ssi neurons``, ``ssi heads``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from simplestories_interp.dataclass_args import check_ranges, positional
from simplestories_interp.zoo.registry import DEFAULT_HEAD_MODEL, DEFAULT_MODEL

POSITION_BUCKETS: tuple[tuple[int, int], ...] = ((0, 64), (64, 128), (128, 256), (256, 512))
"""Position buckets [lo, hi) of the context-length study (docs/context_length.md)."""

# Our own paragraph of the same shape as the paper's Fig. 19/20 example.
DEFAULT_TEXT = (
    "One day, Lily and Max went to the park to look for a red ball. Lily said, \"Max, can you "
    "see the ball?\" Max looked under the big tree, but the ball was not there. Then Lily saw "
    "the ball near the pond. She ran to the pond and picked up the ball. Max and Lily played "
    "with the ball in the park until it was time to go home."
)


@dataclass
class CacheConfig:
    """Cache hook activations of a model over a corpus into an on-disk store."""

    model: str = positional(default=DEFAULT_MODEL)
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
    verify: bool = False
    """Check every shard of the store in --out against its recorded size and checksum, then exit."""

    def __post_init__(self) -> None:
        check_ranges(self, positive=("n_stories", "batch_size", "rows_per_shard"))


@dataclass
class NeuronConfig:
    """Top-activating tokens of neurons (or any hook's units), as text and an HTML page."""

    model: str = positional(default=DEFAULT_MODEL)
    """Zoo name, model directory or hub repo id."""
    hook: str = "blocks.2.mlp.hook_post"
    """Hook whose units to scan (MLP neurons: blocks.L.mlp.hook_post)."""
    units: list[int] | None = None
    """Units to show; default: the 8 with the largest activations."""
    data: str = "synthetic:2023"
    """Story source; roles come from its annotations, or from the rule tagger (docs/roles.md)."""
    n_stories: int = 50
    """Stories to scan."""
    k: int = 20
    """Top activations kept per unit."""
    out: str | None = None
    """Write an offline HTML page here."""
    device: str | None = None
    """cpu, cuda, mps; default: the best available."""

    def __post_init__(self) -> None:
        check_ranges(self, positive=("n_stories", "k"), non_negative=("units",))


@dataclass
class HeadConfig:
    """Classify attention heads (positional / semantic / mixed / sink) over a corpus."""

    model: str = positional(default=DEFAULT_HEAD_MODEL)
    """Zoo name, model directory or hub repo id."""
    data: str = "synthetic:2023"
    """Story source; roles and entities come from its annotations, or from the rule tagger (docs/roles.md)."""
    n_stories: int = 60
    """Stories to run."""
    rows: Literal["packed", "story"] = "packed"
    """packed: rows of n_ctx tokens as in training (earlier stories and their [EOS] in view); story: each
    story alone from position 0, as the TinyStories paper reads them (padding not counted)."""
    thresholds: list[str] | None = None
    """Classification thresholds as NAME=VALUE, e.g. positional_share=0.8 role_lift=2 (names and defaults:
    docs/heads.md)."""
    out: str | None = None
    """Write heads.json, a heat map and attention views into this directory."""
    text: str | None = None
    """Text for the attention views (default: the TinyStories-style paragraph)."""
    device: str | None = None
    """cpu, cuda, mps; default: the best available."""

    def __post_init__(self) -> None:
        check_ranges(self, positive=("n_stories",))
