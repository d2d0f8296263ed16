"""Whether the Hugging Face Hub may be reached now, and where its cache is.

``huggingface_hub`` reads ``HF_HUB_OFFLINE`` and the cache variables once, at import; these read
them again at call time, so a notebook (or a test) that sets them later is obeyed. A leaf module:
the data pipeline (hub data sets) and the model zoo (hub checkpoints) both ask it, so neither
floor imports the other for it.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from huggingface_hub import constants

_TRUE = {"1", "true", "yes", "on"}
_SETTINGS = threading.RLock()


def is_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` is set to a true value now (or was when huggingface_hub loaded)."""
    env = os.environ.get("HF_HUB_OFFLINE")
    return env.strip().lower() in _TRUE if env is not None else bool(constants.HF_HUB_OFFLINE)


def cache_dir() -> Path:
    """The HF hub cache in force now: ``HF_HUB_CACHE``, else ``HF_HOME/hub``, else the default."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    return Path(constants.HF_HUB_CACHE)


@contextlib.contextmanager
def hub_settings_now() -> Iterator[None]:
    """Within the block, huggingface_hub (and transformers, which asks it) use the cache and offline
    mode in force now, not at its import: for loaders that take no ``cache_dir``, such as
    TransformerLens's (it reloads a tokenizer by name)."""
    with _SETTINGS:  # process-wide globals: one block at a time, restored in order
        saved = constants.HF_HUB_CACHE, constants.HF_HUB_OFFLINE
        constants.HF_HUB_CACHE, constants.HF_HUB_OFFLINE = str(cache_dir()), is_offline()
        try:
            yield
        finally:
            constants.HF_HUB_CACHE, constants.HF_HUB_OFFLINE = saved
