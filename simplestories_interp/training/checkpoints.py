"""Training checkpoints: written atomically, found again on ``--resume``.

A checkpoint is a directory ``checkpoints/step_NNNNNNN/`` holding the model weights
(safetensors), the optimiser state and RNG state (``torch.save``, read back with
``weights_only=True``) and ``state.json`` (step, tokens seen, a fingerprint of the run's
configuration). It is written to a temporary directory and renamed, so a run killed at any
moment leaves either the previous checkpoint or the new one, never half of one.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from simplestories_interp.errors import ConfigError
from simplestories_interp.files import atomic_dir, keep_last

PREFIX = "step_"


def checkpoint_dir(run: Path) -> Path:
    return run / "checkpoints"


def save_checkpoint(run: Path, step: int, model: torch.nn.Module, optimizer, state: dict,
                    keep: int = 2) -> Path:
    final = checkpoint_dir(run) / f"{PREFIX}{step:07d}"
    with atomic_dir(final) as tmp:
        weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(weights, str(tmp / "model.safetensors"))
        torch.save({"optimizer": optimizer.state_dict(), "rng": torch.get_rng_state()}, tmp / "optimizer.pt")
        (tmp / "state.json").write_text(json.dumps({**state, "step": step}, indent=2))
    keep_last(checkpoint_dir(run), PREFIX, keep)
    return final


def list_checkpoints(run: Path) -> list[Path]:
    root = checkpoint_dir(run)
    if not root.is_dir():
        return []
    done = [p for p in root.iterdir() if p.name.startswith(PREFIX) and (p / "state.json").is_file()]
    return sorted(done, key=lambda p: int(p.name[len(PREFIX):]))


def load_checkpoint(path: Path, model: torch.nn.Module, optimizer, fingerprint: str) -> dict:
    """Restore model, optimiser and RNG from ``path``; refuse a checkpoint of another run."""
    state = json.loads((path / "state.json").read_text())
    if state.get("fingerprint") != fingerprint:
        raise ConfigError(
            f"cannot resume from {str(path)!r}: it was written with a different model, data or "
            "batch configuration. Use a new --out directory, or the original settings."
        )
    model.load_state_dict(load_file(str(path / "model.safetensors")))
    extra = torch.load(path / "optimizer.pt", map_location="cpu", weights_only=True)
    optimizer.load_state_dict(extra["optimizer"])
    torch.set_rng_state(extra["rng"])
    return state
