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
from simplestories_interp.zoo import DEFAULT_MODEL, ModelSpec, get_spec

__version__ = "0.1.0"

# public name -> module that defines it (imported lazily)
_LAZY = {
    "load_model": "loading",
    "build_model": "loading",
    "generate": "sampling",
    "load_tokenizer": "tokenizer",
    "train_tokenizer": "tokenizer",
    "fix_tokenizer": "tokenizer",
    "cache_activations": "activations",
    "ActivationStore": "activations",
    "train": "training.trainer",
    "remove_norms": "training.noln",
    "TrainConfig": "training.config",
    "load_config": "training.config",
    "eval_loss": "training.evaluate",
    "generate_stories": "data.synthetic",
    "iter_stories": "data.sources",
    "pack": "data.packing",
    "train_sae": "sae",
    "train_saes": "sae",
    "load_sae": "sae",
    "eval_sae": "sae",
    "SAEConfig": "config",
    "SAESweepConfig": "config",
    "tokenizer": None,
    "neurons": None,
    "heads": None,
    "views": None,
    "convert": None,
    "checkpoint": None,
    "loading": None,
    "hub": None,
}

__all__ = [
    "DEFAULT_MODEL", "ActivationStore", "ModelSpec", "cache_activations", "TrainConfig", "build_model", "eval_loss", "generate_stories",
    "iter_stories", "load_config", "pack", "remove_norms", "train", "checkpoint", "convert", "errors", "fix_tokenizer", "generate",
    "get_spec", "heads", "hub", "load_model", "load_tokenizer", "loading", "neurons", "tokenizer",
    "train_tokenizer", "views", "zoo", "train_sae", "train_saes", "load_sae", "eval_sae", "SAEConfig", "SAESweepConfig",
]

if TYPE_CHECKING:
    from simplestories_interp.activations import ActivationStore, cache_activations
    from simplestories_interp.config import SAEConfig, SAESweepConfig
    from simplestories_interp.data.packing import pack
    from simplestories_interp.data.sources import iter_stories
    from simplestories_interp.data.synthetic import generate_stories
    from simplestories_interp.loading import build_model, load_model
    from simplestories_interp.sae import eval_sae, load_sae, train_sae, train_saes
    from simplestories_interp.sampling import generate
    from simplestories_interp.tokenizer import fix_tokenizer, load_tokenizer, train_tokenizer
    from simplestories_interp.training.config import TrainConfig, load_config
    from simplestories_interp.training.evaluate import eval_loss
    from simplestories_interp.training.noln import remove_norms
    from simplestories_interp.training.trainer import train


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'simplestories_interp' has no attribute {name!r}")
    module = importlib.import_module(f"simplestories_interp.{_LAZY[name] or name}")
    value = module if _LAZY[name] is None else getattr(module, name)
    globals()[name] = value
    return value
