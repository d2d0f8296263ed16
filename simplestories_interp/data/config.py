"""Typed configs of the data commands (``ssi data synth``, ``ssi data stats``).
"""

from __future__ import annotations

from dataclasses import dataclass

from simplestories_interp.dataclass_args import check_ranges, positional
from simplestories_interp.errors import ConfigError


@dataclass
class SynthConfig:
    """Write the built-in synthetic corpus as JSON-lines shards."""

    directory: str | None = positional(default=None)
    """Output directory (same as --out; kept positional for older scripts)."""
    out: str = "data/synthetic"
    """Output directory."""
    n_stories: int = 10000
    """Stories to write."""
    seed: int = 0
    """Corpus seed (story i of seed s is always the same)."""
    shard_size: int = 10000
    """Stories per shard file."""
    seed_per_shard: bool = False
    """Shard i holds the first --shard-size stories of seed SEED + i (instead of consecutive stories of one
    seed), as the paper-scale head model's corpus was written (docs/heads.md)."""

    def __post_init__(self) -> None:
        check_ranges(self, positive=("n_stories", "shard_size"), non_negative=("seed",))
        if self.directory is not None:
            if self.out not in ("data/synthetic", self.directory):
                raise ConfigError(f"give the output folder once: positional {self.directory!r} or --out {self.out!r}")
            self.out = self.directory


@dataclass
class StatsConfig:
    """Measure the diversity of the synthetic corpus."""

    n_stories: int = 100000
    """Stories to generate and measure."""
    seed: int = 0
    """Corpus seed."""
    json: bool = False
    """Print JSON instead of text."""
    length_stories: int = 1000
    """Ordinary and long stories (synthetic-long) whose lengths in tokens are measured; 0 skips."""
    tokenizer: str | None = None
    """Model (zoo name or directory) whose tokenizer measures the lengths; default: the zoo's default
    model (SynthStories-1.25M)."""

    def __post_init__(self) -> None:
        check_ranges(self, positive=("n_stories",), non_negative=("seed", "length_stories"))
