"""The config of ``ssi explore`` (light: no torch, so ``ssi --help`` stays instant)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from simplestories_interp.dataclass_args import check_ranges, positional
from simplestories_interp.zoo.registry import DEFAULT_MODEL


@dataclass
class ExploreConfig:
    """Explore a model in the browser: predictions, why a token, its components, ablations (local, offline)."""

    model: str = positional(default=DEFAULT_MODEL)
    """Model to explore (zoo name, model directory or hub repo id)."""
    sae: list[str] | None = None
    """SAE directories whose latents join the attribution (any number, at the hooks they were trained on)."""
    data: str = "synthetic:2023"
    """Story source of the components' top-activating contexts, roles and head statistics."""
    n_stories: int = 60
    """Stories scanned for the component pages (and the means of mean-ablation)."""
    host: str = "127.0.0.1"
    """Address to bind; only loopback unless given explicitly (the server has no authentication)."""
    port: int = 8765
    """Port to listen on (0: any free port)."""
    cache: str | None = None
    """Folder for the component pages' scans (default: the SSI cache, SSI_CACHE_DIR)."""
    ablation: Literal["zero", "mean"] = "zero"
    """Default ablation in the page (each request may choose)."""
    device: str | None = None
    """cpu, cuda, mps; default: the best available."""

    def __post_init__(self) -> None:
        check_ranges(self, positive=("n_stories",), non_negative=("port",))
