"""Resume points of long jobs (model training, norm removal, SAE training), written atomically.

A checkpoint is a directory ``RUN/checkpoints/step_NNNNNNN/`` holding the job's tensors
(``tensors.safetensors``), everything else it needs to continue exactly — optimiser and
scheduler states, counters, the torch RNG — in ``state.pt`` (``torch.save``, read back with
``weights_only=True``), and ``state.json`` (step, a fingerprint of the job's settings, and
whatever the job records). It is written to a temporary directory and renamed, so a job killed
at any moment leaves the previous checkpoint or the new one, never half of one; a checkpoint
of other settings is refused rather than silently continued.

"Checkpoint" means only this in the library; model directories are :mod:`.zoo.formats`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file

from simplestories_interp.errors import ConfigError
from simplestories_interp.files import atomic_dir, atomic_write_text, keep_last, save_weights

PREFIX = "step_"
TENSORS, STATE, INFO = "tensors.safetensors", "state.pt", "state.json"


@dataclass
class Checkpoint:
    """What a checkpoint holds, as loaded."""

    step: int
    tensors: dict[str, torch.Tensor]
    """Weights (a ``state_dict``)."""
    state: dict
    """Optimiser/scheduler states and counters (the torch RNG is already restored)."""
    info: dict
    """``state.json``: step, fingerprint and the job's own records."""


def checkpoint_root(run: Path) -> Path:
    return Path(run) / "checkpoints"


def save_checkpoint(run: Path, step: int, tensors: dict[str, torch.Tensor], state: dict, *,
                    fingerprint: str, info: dict | None = None, keep: int = 1) -> Path:
    """Write checkpoint ``step`` of ``run`` atomically; keep only the last ``keep``."""
    final = checkpoint_root(run) / f"{PREFIX}{step:07d}"
    with atomic_dir(final) as tmp:
        save_weights({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, tmp / TENSORS)
        torch.save({**state, "rng": torch.get_rng_state()}, tmp / STATE)
        (tmp / INFO).write_text(json.dumps({**(info or {}), "step": step, "fingerprint": fingerprint}, indent=2))
    keep_last(checkpoint_root(run), PREFIX, keep)
    return final


def list_checkpoints(run: Path) -> list[Path]:
    """Complete checkpoints of ``run``, oldest first."""
    root = checkpoint_root(run)
    if not root.is_dir():
        return []
    done = [p for p in root.iterdir() if p.name.startswith(PREFIX) and (p / INFO).is_file()]
    return sorted(done, key=lambda p: int(p.name[len(PREFIX):]))


def require_checkpoint(run: Path) -> None:
    """Refuse ``--resume`` when ``run`` holds no checkpoint (rather than silently starting at step 0)."""
    if not list_checkpoints(run):
        raise ConfigError(f"nothing to resume in {str(run)!r}: it holds no checkpoint; run the same command "
                          "without --resume to start the job")


def truncate_log(path: Path, step: int) -> None:
    """Drop the ``metrics.jsonl`` records of steps after the checkpoint, which the resumed job logs again."""
    if path.is_file():
        lines = [line for line in path.read_text().splitlines() if line.strip() and json.loads(line)["step"] <= step]
        atomic_write_text(path, "".join(line + "\n" for line in lines))


def load_latest(run: Path, fingerprint: str) -> Checkpoint | None:
    """The last checkpoint of ``run`` (None if there is none), with the torch RNG restored.

    Raises :class:`ConfigError` when it was written with other settings.
    """
    found = list_checkpoints(run)
    if not found:
        return None
    path = found[-1]
    info = json.loads((path / INFO).read_text())
    if info.get("fingerprint") != fingerprint:
        raise ConfigError(
            f"cannot resume from {str(path)!r}: it was written with other settings (model, data, "
            "architecture, batch, steps or learning rate). Use a new --out directory, or the original settings."
        )
    state = torch.load(path / STATE, map_location="cpu", weights_only=True)
    torch.set_rng_state(state.pop("rng"))
    return Checkpoint(int(info["step"]), load_file(str(path / TENSORS)), state, info)
