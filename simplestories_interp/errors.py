"""Every exception the library raises on user input.

Each error states the rule that was broken, quotes the offending value and suggests a fix, so
that the CLI can print it as one line and a notebook user knows what to do next. All of them
derive from :class:`SSIError`; most also derive from the built-in type a Python user would
expect (``ValueError``, ``FileNotFoundError``, ``KeyError``) so generic handlers keep working.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def close_matches(value: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Up to ``n`` candidates that look like ``value`` (case-insensitive)."""
    pool = list(candidates)
    by_lower = {c.lower(): c for c in pool}
    hits = difflib.get_close_matches(value.lower(), list(by_lower), n=n, cutoff=0.5)
    # A prefix/substring hit (e.g. "5M" for "SimpleStories-5M") is a good suggestion too.
    hits += [c.lower() for c in pool if value.lower() in c.lower() and c.lower() not in hits]
    return [by_lower[h] for h in hits[:n]]


def did_you_mean(value: str, candidates: Iterable[str]) -> str:
    matches = close_matches(value, candidates)
    if not matches:
        return ""
    return " Did you mean " + " or ".join(repr(m) for m in matches) + "?"


def require_positive(name: str, value, *, allow_none: bool = False) -> None:
    """The one check of a positive whole-number argument of a Python API function (``batch_size``,
    ``n_stories``, ...); configs check theirs in ``__post_init__``."""
    import numbers

    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise InvalidArgumentError(f"{name} must be a positive integer, got {value!r}")


class SSIError(Exception):
    """Base class of every error raised by simplestories_interp on bad input."""


class UnknownModelError(SSIError, KeyError):
    """A name is neither a zoo entry, a local directory nor a hub repo id."""

    def __init__(self, name: str, known: Iterable[str], hint: str = ""):
        self.name = name
        msg = f"unknown model {name!r}: not a zoo name, an existing directory or a hub repo id."
        msg += did_you_mean(name, known) or " Run `ssi zoo` to list the zoo."
        super().__init__(msg + (" " + hint if hint else ""))

    def __str__(self) -> str:  # KeyError would add quotes around the message
        return str(self.args[0])


class UnknownHookError(SSIError, KeyError):
    """A hook name the model does not have."""

    def __init__(self, name: str, known: Iterable[str]):
        msg = f"the model has no hook {name!r}."
        msg += did_you_mean(name, known) or " List them with `model.hook_dict.keys()`."
        super().__init__(msg)

    def __str__(self) -> str:
        return str(self.args[0])


class ModelNotTrainedError(SSIError, LookupError):
    """A zoo entry whose weights exist neither on disk nor on the hub yet."""


class MissingDirectoryError(SSIError, FileNotFoundError):
    """A path that was given as a model or output directory does not exist."""


class MissingWeightsError(SSIError, FileNotFoundError):
    """A model directory without a weights file."""


class CorruptFileError(SSIError, ValueError):
    """A weights or config file that cannot be read (truncated, corrupt, wrong format): of a model
    folder, an SAE folder, a store or a resume checkpoint."""


class WeightsMismatchError(SSIError, ValueError):
    """Weights whose keys or shapes do not match the architecture they claim."""


# The names before 0.2, when "checkpoint" also meant a model folder (kept importable one release).
CorruptCheckpointError = CorruptFileError
CheckpointMismatchError = WeightsMismatchError


class UnsupportedArchitectureError(SSIError, ValueError):
    """A checkpoint of an architecture the library cannot convert."""


class TokenizerMismatchError(SSIError, ValueError):
    """A tokenizer whose vocabulary does not fit the model's embedding."""


class HubOfflineError(SSIError, ConnectionError):
    """A hub repo that is needed but neither cached nor reachable."""


class InvalidArgumentError(SSIError, ValueError):
    """An argument outside its allowed values (n_ctx, dtype, device, temperature, ...)."""


class IndexOutOfRangeError(SSIError, IndexError):
    """An index (token, unit, feature) outside what a store or model holds."""


class DataError(SSIError, ValueError):
    """Story data that cannot be read or used (empty, not UTF-8, wrong columns)."""


class ConfigError(SSIError, ValueError):
    """A training or job configuration with unknown keys or invalid values."""


class IntegrityError(SSIError, ValueError):
    """Stored data whose size or checksum differs from what was recorded when it was written."""


class OutputInUseError(SSIError, RuntimeError):
    """An output folder that another running ssi job is writing, or that holds another kind of artifact."""


class OutputWouldReplaceError(SSIError, FileExistsError):
    """An output file that would replace an input of the command, a file inside a model, SAE, store or
    run folder, or a file this library did not write."""


class RemoteCodeError(SSIError, RuntimeError):
    """A model whose loader would run code from the Hugging Face Hub (``trust_remote_code``), refused
    unless the person asks for it explicitly."""


class DiskFullError(SSIError, OSError):
    """The disk filled up while a job was writing (what was written before stays intact)."""


class PermissionDeniedError(SSIError, PermissionError):
    """A file or folder the process may not read or write (the data is intact; fix its permissions)."""


class TooLargeError(SSIError, MemoryError):
    """A size (batch, SAE width) whose memory would exceed what the device has free, refused before allocating."""
