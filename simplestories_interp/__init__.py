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
from simplestories_interp.zoo import ModelSpec, get_spec

__version__ = "0.1.0"

# public name -> module that defines it (imported lazily)
_LAZY = {
    "load_model": "loading",
    "build_model": "loading",
    "generate": "sampling",
    "load_tokenizer": "tokenizer",
    "train_tokenizer": "tokenizer",
    "fix_tokenizer": "tokenizer",
    "tokenizer": None,
    "convert": None,
    "checkpoint": None,
    "loading": None,
    "hub": None,
}

__all__ = [
    "ModelSpec", "build_model", "checkpoint", "convert", "errors", "fix_tokenizer", "generate",
    "get_spec", "hub", "load_model", "load_tokenizer", "loading", "tokenizer", "train_tokenizer", "zoo",
]

if TYPE_CHECKING:
    from simplestories_interp.loading import build_model, load_model
    from simplestories_interp.sampling import generate
    from simplestories_interp.tokenizer import fix_tokenizer, load_tokenizer, train_tokenizer


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'simplestories_interp' has no attribute {name!r}")
    module = importlib.import_module(f"simplestories_interp.{_LAZY[name] or name}")
    value = module if _LAZY[name] is None else getattr(module, name)
    globals()[name] = value
    return value
