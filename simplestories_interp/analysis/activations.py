"""The on-disk activation store: cache chosen hooks of a model over a corpus, read them back.

Writing (:func:`cache_activations`, ``ssi cache``) streams row batches through the model,
stopping after the last layer needed and keeping only the requested hooks, and writes
fixed-size shards (``shard_00000.safetensors``: one ``[tokens, d]`` tensor per hook plus the
``[rows, n_ctx]`` token ids). A shard enters ``manifest.json`` only after its file is
complete and renamed into place, so a killed run never lists a partial shard; rerun with the
same arguments, it skips the rows already stored and ends with the same store. Memory stays
bounded: one batch of activations and one shard buffer at a time.

Reading (:class:`ActivationStore`): shuffled ``[batch, d]`` tensors for SAE training, random
access by token index, and the token ids and context behind each row.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from tqdm.auto import tqdm
from transformer_lens import HookedTransformer

from simplestories_interp.analysis.hooks import parse_hooks, run_hooks, stop_layer
from simplestories_interp.data.rows import iter_row_batches
from simplestories_interp.devices import parse_dtype
from simplestories_interp.errors import (
    ConfigError,
    IndexOutOfRangeError,
    MissingDirectoryError,
    UnknownHookError,
)
from simplestories_interp.files import atomic_write_text, ensure_writable

MANIFEST = "manifest.json"


@dataclass
class Manifest:
    model: str
    model_fingerprint: str
    hooks: dict[str, int]
    """Hook name -> activation width d."""
    dtype: str
    n_ctx: int
    source: str
    n_stories: int | None
    rows_per_shard: int
    shards: list[dict] = field(default_factory=list)
    """One entry per complete shard: file, rows, tokens, sha256."""
    complete: bool = False

    @property
    def rows(self) -> int:
        return sum(s["rows"] for s in self.shards)


def model_fingerprint(model: HookedTransformer) -> str:
    """Identifies the weights (not just the architecture) a store was written with."""
    h = hashlib.sha256(model.cfg.model_name.encode())
    for p in (model.W_E, model.W_U):
        h.update(p.detach().float().cpu().numpy()[:8].tobytes())
    return h.hexdigest()[:16]


def _check_resume(old: Manifest, new: Manifest, out: Path) -> None:
    keys = ("model_fingerprint", "dtype", "n_ctx", "source", "n_stories", "rows_per_shard")
    diff = [k for k in keys if getattr(old, k) != getattr(new, k)]
    if list(old.hooks) != list(new.hooks):
        diff.insert(0, "hooks")
    if diff:
        show = lambda m, k: list(m.hooks) if k == "hooks" else getattr(m, k)  # noqa: E731
        detail = ", ".join(f"{k}: stored {show(old, k)!r} vs now {show(new, k)!r}" for k in diff)
        raise ConfigError(f"{str(out)!r} holds a store written with other settings ({detail}); "
                          "use another output directory or the original settings")


def _write_manifest(out: Path, manifest: Manifest) -> None:
    atomic_write_text(out / MANIFEST, json.dumps(asdict(manifest), indent=1))


def cache_activations(
    model: HookedTransformer,
    hooks: Sequence[str] | str,
    out: str | Path,
    *,
    source: str = "synthetic",
    n_stories: int | None = 2000,
    batch_size: int = 16,
    rows_per_shard: int = 256,
    dtype: str | torch.dtype = "float32",
    progress: bool = True,
) -> ActivationStore:
    """Cache ``hooks`` of ``model`` over ``n_stories`` stories of ``source`` into ``out``.

    Resumes automatically when ``out`` holds a partial store written with the same settings.
    """
    hooks = parse_hooks(model, [hooks] if isinstance(hooks, str) else hooks)
    torch_dtype = parse_dtype(dtype)
    out = Path(out)
    ensure_writable(out)
    manifest = Manifest(model.cfg.model_name, model_fingerprint(model),
                        {h: 0 for h in hooks}, str(torch_dtype).removeprefix("torch."),
                        model.cfg.n_ctx, source, n_stories, rows_per_shard)
    if (out / MANIFEST).is_file():
        old = Manifest(**json.loads((out / MANIFEST).read_text()))
        _check_resume(old, manifest, out)
        manifest = old
        if manifest.complete:
            return ActivationStore(out)
    stop, device = stop_layer(model, hooks), next(model.parameters()).device
    buffer: dict[str, list[torch.Tensor]] = {h: [] for h in hooks}
    rows: list[np.ndarray] = []
    bar = tqdm(disable=not progress, desc="caching", unit=" rows", initial=manifest.rows)
    batches = iter_row_batches(source, model.tokenizer, model.cfg.n_ctx, batch_size,
                               limit=n_stories, skip_rows=manifest.rows)
    for batch in batches:
        acts = run_hooks(model, torch.from_numpy(batch).to(device), hooks, stop)
        for h in hooks:
            buffer[h].append(acts[h].to("cpu", torch_dtype))
            manifest.hooks[h] = acts[h].shape[-1]
        rows.append(batch)
        bar.update(len(batch))
        while sum(len(r) for r in rows) >= rows_per_shard:
            rows, buffer = _flush(out, manifest, rows, buffer, rows_per_shard)
    if rows:
        _flush(out, manifest, rows, buffer, sum(len(r) for r in rows))
    bar.close()
    if manifest.rows == 0:
        raise ConfigError(f"{n_stories} stories of {source!r} fill no row of n_ctx={model.cfg.n_ctx}")
    manifest.complete = True
    _write_manifest(out, manifest)
    return ActivationStore(out)


def _flush(out: Path, manifest: Manifest, rows: list[np.ndarray], buffer: dict, n: int):
    """Write the first ``n`` rows of the buffers as the next shard; return the rest."""
    all_rows = np.concatenate(rows)
    n_ctx = all_rows.shape[1]
    tensors = {h: torch.cat(v)[: n * n_ctx].contiguous() for h, v in buffer.items()}
    tensors["tokens"] = torch.from_numpy(all_rows[:n].astype(np.int32))
    name = f"shard_{len(manifest.shards):05d}.safetensors"
    tmp = out / (name + ".tmp")
    save_file(tensors, str(tmp))
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    os.replace(tmp, out / name)
    manifest.shards.append({"file": name, "rows": n, "tokens": n * n_ctx, "sha256": digest})
    _write_manifest(out, manifest)
    rest_rows = [all_rows[n:]] if len(all_rows) > n else []
    rest = {h: [torch.cat(v)[n * n_ctx:]] if rest_rows else [] for h, v in buffer.items()}
    return rest_rows, rest


class ActivationStore:
    """Read access to a store written by :func:`cache_activations`."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not (self.path / MANIFEST).is_file():
            raise MissingDirectoryError(f"{str(self.path)!r} is not an activation store (no {MANIFEST})")
        self.manifest = Manifest(**json.loads((self.path / MANIFEST).read_text()))
        self._offsets = np.cumsum([0] + [s["tokens"] for s in self.manifest.shards])

    @property
    def hooks(self) -> list[str]:
        return list(self.manifest.hooks)

    @property
    def n_tokens(self) -> int:
        return int(self._offsets[-1])

    def __len__(self) -> int:
        return self.n_tokens

    def d(self, hook: str) -> int:
        return self.manifest.hooks[self._hook(hook)]

    def _hook(self, hook: str | None) -> str:
        if hook is None and len(self.hooks) == 1:
            return self.hooks[0]
        if hook not in self.manifest.hooks:
            raise UnknownHookError(str(hook), self.hooks)
        return hook

    def _tensor(self, shard: int, key: str) -> torch.Tensor:
        with safe_open(str(self.path / self.manifest.shards[shard]["file"]), "pt") as f:
            return f.get_tensor(key)

    def shard(self, index: int, hook: str | None = None) -> torch.Tensor:
        """All [tokens, d] activations of one shard."""
        return self._tensor(index, self._hook(hook))

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.get(index)

    def get(self, index: int, hook: str | None = None) -> torch.Tensor:
        """The activation vector of global token ``index``."""
        shard, local = self._locate(index)
        with safe_open(str(self.path / self.manifest.shards[shard]["file"]), "pt") as f:
            return f.get_slice(self._hook(hook))[local:local + 1][0]

    def _locate(self, index: int) -> tuple[int, int]:
        if not 0 <= index < self.n_tokens:
            raise IndexOutOfRangeError(
                f"token index {index} is out of range: the store holds tokens 0..{self.n_tokens - 1}")
        shard = int(np.searchsorted(self._offsets, index, side="right") - 1)
        return shard, index - int(self._offsets[shard])

    def token(self, index: int, tokenizer=None, window: int = 12) -> dict:
        """Token id, row, position and the context (ids, and text with a tokenizer) of a token."""
        shard, local = self._locate(index)
        n_ctx = self.manifest.n_ctx
        row_tokens = self._tensor(shard, "tokens")[local // n_ctx].tolist()
        pos = local % n_ctx
        info = {"token": row_tokens[pos], "row": int(self._offsets[shard]) // n_ctx + local // n_ctx,
                "pos": pos, "context_ids": row_tokens[max(0, pos - window): pos + 1]}
        if tokenizer is not None:
            info["context"] = tokenizer.decode(info["context_ids"][:-1])
            info["text"] = tokenizer.decode([info["token"]])
        return info

    def batches(self, batch_size: int, hook: str | None = None, *, shuffle: bool = True,
                seed: int = 0, shards_in_buffer: int = 4) -> Iterator[torch.Tensor]:
        """[batch, d] tensors over the whole store once; shuffled within a buffer of shards."""
        hook = self._hook(hook)
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(self.manifest.shards)) if shuffle else np.arange(len(self.manifest.shards))
        carry = torch.empty(0, self.d(hook))
        for start in range(0, len(order), shards_in_buffer):
            shards = order[start:start + shards_in_buffer]
            chunk = torch.cat([carry] + [self.shard(int(i), hook).float() for i in shards])
            if shuffle:
                chunk = chunk[torch.from_numpy(rng.permutation(len(chunk)))]
            n_full = len(chunk) // batch_size * batch_size
            yield from chunk[:n_full].split(batch_size)
            carry = chunk[n_full:]
        if len(carry):
            yield carry
