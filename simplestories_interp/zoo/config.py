"""Typed configs of the zoo commands (``ssi zoo``, ``ssi info``, ``ssi generate``).

Like every ``config.py`` of the package, free of heavy imports: the CLI derives its options
from these dataclasses and must start fast.
"""

from __future__ import annotations

from dataclasses import dataclass

from simplestories_interp.dataclass_args import check_ranges, positional
from simplestories_interp.zoo.registry import DEFAULT_MODEL


@dataclass
class ZooConfig:
    """List the model zoo."""

    json: bool = False
    """Print JSON records instead of a table."""


@dataclass
class InfoConfig:
    """Show one zoo entry in full."""

    name: str = positional()
    """Zoo name, e.g. SimpleStories-5M or SimpleStories-1.25M-ctx128-noLN."""


@dataclass
class GenerateConfig:
    """Sample a continuation from any loadable model."""

    model: str = positional(default=DEFAULT_MODEL)
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
        check_ranges(self, positive=("max_new_tokens",), non_negative=("temperature", "seed"))
