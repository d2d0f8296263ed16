"""Typed config of the figure reproductions (``ssi reproduce tinystories``).
"""

from __future__ import annotations

from dataclasses import dataclass

from simplestories_interp.dataclass_args import check_ranges
from simplestories_interp.zoo.registry import DEFAULT_MODEL

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
        check_ranges(self, positive=("neuron_stories", "head_stories"))
