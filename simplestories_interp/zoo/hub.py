"""Fetching model repos from the Hugging Face Hub, honouring offline mode and the HF cache.

Offline mode and the cache are read at call time (:mod:`simplestories_interp.offline`), so a
notebook (or a test) that sets them later is obeyed. When the hub cannot be reached, the error
says whether the repo is cached and how to get it.
"""

from __future__ import annotations

import re
from pathlib import Path

from huggingface_hub import snapshot_download
from huggingface_hub.errors import (
    LocalEntryNotFoundError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from simplestories_interp.errors import HubOfflineError, UnknownModelError
from simplestories_interp.offline import cache_dir, is_offline

__all__ = ["HubOfflineError", "cache_dir", "download", "is_offline", "looks_like_repo_id"]

REPO_ID_RE = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# Only what loading needs: never pickled weights, never code.
ALLOW_PATTERNS = ["*.json", "*.safetensors", "tokenizer*", "README.md"]


def looks_like_repo_id(name: str) -> bool:
    return bool(REPO_ID_RE.match(name))


def download(repo_id: str, *, revision: str | None = None) -> Path:
    """The local snapshot directory of ``repo_id`` (from the cache, or downloaded into it)."""
    offline, cache = is_offline(), cache_dir()
    try:
        path = snapshot_download(
            repo_id,
            revision=revision,
            cache_dir=str(cache),
            local_files_only=offline,
            allow_patterns=ALLOW_PATTERNS,
        )
    except (RepositoryNotFoundError, RevisionNotFoundError) as exc:
        raise UnknownModelError(repo_id, [], hint=f"The hub has no such repo or revision ({exc}).") from exc
    except (LocalEntryNotFoundError, OfflineModeIsEnabled):
        reason = "HF_HUB_OFFLINE is set" if offline else "the hub cannot be reached"
        raise HubOfflineError(
            f"hub repo {repo_id!r} is not in the HF cache at {str(cache)!r} and {reason}. Fix: on a "
            f"machine with internet run `hf download {repo_id}` (then copy the cache), unset "
            "HF_HUB_OFFLINE, or pass a local model directory instead."
        ) from None  # one readable exception: the message says all the chain would
    except OSError as exc:  # connection refused, DNS failure, ...
        raise HubOfflineError(
            f"cannot reach the Hugging Face Hub for {repo_id!r} ({type(exc).__name__}) and it is not "
            f"cached at {str(cache)!r}. Set HF_HUB_OFFLINE=1 to use the cache only, or pass a local "
            "model directory."
        ) from None
    return Path(path)
