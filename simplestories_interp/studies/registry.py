"""The studies that ``ssi reproduce NAME`` runs, as a table: name -> (config class, runner).

Runners are named, not imported, so the CLI (and ``ssi --help``) reads this table without loading
torch; :func:`run` imports the one study it runs. Every runner goes through
:func:`simplestories_interp.studies.study.run_study`, so every study's pages rebuild from its
``results.json``.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from simplestories_interp.studies.config import ContextLengthConfig, FigureConfig, NormFreeConfig

STUDIES: dict[str, tuple[type, str]] = {
    "tinystories": (FigureConfig, "simplestories_interp.studies.tinystories:tinystories_figures"),
    "context-length": (ContextLengthConfig, "simplestories_interp.studies.context_length:context_length_study"),
    "norm-free": (NormFreeConfig, "simplestories_interp.studies.norm_free:norm_free_study"),
}


def run(name: str, cfg) -> Path:
    """Run study ``name`` with its config ``cfg``; return the folder it wrote."""
    module, function = STUDIES[name][1].split(":")
    return getattr(importlib.import_module(module), function)(cfg)
