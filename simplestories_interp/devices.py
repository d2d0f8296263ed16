"""Device and dtype selection, shared by loading, training and caching.

Users pass devices and dtypes as strings from the CLI and as strings or torch objects from
Python; both are parsed here, once, with errors that list the accepted spellings.
"""

from __future__ import annotations

import torch

from simplestories_interp.errors import InvalidArgumentError, did_you_mean

DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32, "fp32": torch.float32, "float": torch.float32,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
    "float16": torch.float16, "fp16": torch.float16, "half": torch.float16,
    "float64": torch.float64, "fp64": torch.float64,
}


def parse_dtype(dtype: str | torch.dtype | None, default: torch.dtype = torch.float32) -> torch.dtype:
    """``None`` -> ``default``; a torch floating dtype or one of :data:`DTYPES` -> that dtype."""
    if dtype is None:
        return default
    if isinstance(dtype, torch.dtype):
        if not dtype.is_floating_point:
            raise InvalidArgumentError(f"dtype must be a floating-point type, got {dtype}")
        return dtype
    key = str(dtype).lower().removeprefix("torch.")
    if key not in DTYPES:
        raise InvalidArgumentError(
            f"unknown dtype {dtype!r}; use one of {', '.join(sorted(set(DTYPES)))}."
            + did_you_mean(key, DTYPES)
        )
    return DTYPES[key]


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """``None`` picks the best available: cuda, then mps, then cpu."""
    if device is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InvalidArgumentError(f"unknown device {device!r}: use cpu, cuda, cuda:N or mps") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InvalidArgumentError(f"device {str(device)!r} requested but CUDA is not available; use cpu")
    return device
