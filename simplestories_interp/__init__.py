"""simplestories_interp (``ssi``): interpretability toolkit and model zoo for SimpleStories.

    import simplestories_interp as ssi
    model = ssi.load_model("SimpleStories-1.25M")   # a TransformerLens HookedTransformer

Heavy modules (torch, TransformerLens) load on first use, so ``import simplestories_interp``
and ``ssi zoo`` stay fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from simplestories_interp import errors, zoo
from simplestories_interp.zoo.registry import DEFAULT_MODEL, ModelSpec, get_spec

__version__ = "0.1.0"

# public name -> module that defines it (imported lazily)
_LAZY = {
    "load_model": "zoo.loading",
    "build_model": "zoo.loading",
    "generate": "zoo.sampling",
    "load_tokenizer": "data.tokenizer",
    "train_tokenizer": "data.tokenizer",
    "fix_tokenizer": "data.tokenizer",
    "generate_stories": "data.corpus.synthetic",
    "iter_stories": "data.sources",
    "pack": "data.packing",
    "train": "training.trainer",
    "remove_norms": "training.noln",
    "TrainConfig": "training.config",
    "NoLNConfig": "training.config",
    "load_config": "training.config",
    "eval_loss": "training.evaluate",
    "cache_activations": "analysis.activations",
    "ActivationStore": "analysis.activations",
    "train_sae": "sae.training",
    "train_saes": "sae.training",
    "load_sae": "sae.training",
    "eval_sae": "sae.training",
    "SAEConfig": "sae.config",
    "SAESweepConfig": "sae.config",
    "FigureConfig": "studies.config",
}
# ssi.<module> -> the module (the names of the flat layout before 0.2 keep working here)
_MODULES = {
    "tokenizer": "data.tokenizer",
    "loading": "zoo.loading",
    "convert": "zoo.convert",
    "formats": "zoo.formats",
    "checkpoint": "zoo.formats",
    "hub": "zoo.hub",
    "activations": "analysis.activations",
    "neurons": "analysis.neurons",
    "heads": "analysis.heads",
    "attribution": "analysis.attribution",
    "views": "render.views",
    "thumbnails": "render.thumbnails",
    "data": "data",
    "training": "training",
    "analysis": "analysis",
    "sae": "sae",
    "render": "render",
    "studies": "studies",
    "report": "studies",  # the name of studies/ before 0.2 (kept one release)
}

__all__ = [
    "ActivationStore", "DEFAULT_MODEL", "FigureConfig", "ModelSpec", "NoLNConfig", "SAEConfig",
    "SAESweepConfig", "TrainConfig", "activations", "analysis", "attribution", "build_model",
    "cache_activations", "checkpoint", "convert", "data", "errors", "eval_loss", "eval_sae", "fix_tokenizer",
    "formats", "generate", "generate_stories", "get_spec", "heads", "hub", "iter_stories", "load_config",
    "load_model", "load_sae", "load_tokenizer", "loading", "neurons", "pack", "remove_norms", "render", "report",
    "sae", "studies", "thumbnails", "tokenizer", "train", "train_sae", "train_saes", "train_tokenizer", "training",
    "views", "zoo",
]

if TYPE_CHECKING:
    from simplestories_interp.analysis.activations import ActivationStore, cache_activations
    from simplestories_interp.data.corpus.synthetic import generate_stories
    from simplestories_interp.data.packing import pack
    from simplestories_interp.data.sources import iter_stories
    from simplestories_interp.data.tokenizer import fix_tokenizer, load_tokenizer, train_tokenizer
    from simplestories_interp.sae.config import SAEConfig, SAESweepConfig
    from simplestories_interp.sae.training import eval_sae, load_sae, train_sae, train_saes
    from simplestories_interp.studies.config import FigureConfig
    from simplestories_interp.training.config import NoLNConfig, TrainConfig, load_config
    from simplestories_interp.training.evaluate import eval_loss
    from simplestories_interp.training.noln import remove_norms
    from simplestories_interp.training.trainer import train
    from simplestories_interp.zoo.loading import build_model, load_model
    from simplestories_interp.zoo.sampling import generate


def __getattr__(name: str):
    if name in _MODULES:
        value = importlib.import_module(f"simplestories_interp.{_MODULES[name]}")
    elif name in _LAZY:
        value = getattr(importlib.import_module(f"simplestories_interp.{_LAZY[name]}"), name)
    else:
        raise AttributeError(f"module 'simplestories_interp' has no attribute {name!r}")
    globals()[name] = value
    return value
