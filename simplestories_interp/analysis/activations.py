"""The on-disk activation store: cache chosen hooks of a model over a corpus, read them back.

Writing (:func:`cache_activations`, ``ssi cache``) streams row batches through the model,
stopping after the last layer needed and keeping only the requested hooks, and writes
fixed-size shards (``shard_00000.safetensors``: one ``[tokens, d]`` tensor per hook plus the
``[rows, n_ctx]`` token ids). A shard enters ``manifest.json`` only after its file is
complete and renamed into place, so a killed run never lists a partial shard; rerun with the
same arguments, it skips the rows already stored (after checking them) and ends with the same
store. Memory stays bounded: one batch of activations and one shard buffer at a time. Only
token-shaped hooks (``[batch, pos, d]``) can be cached; others are refused before anything is
written.

Reading (:class:`ActivationStore`): shuffled ``[batch, d]`` tensors for SAE training, random
access by token index, and the token ids and context behind each row. Every shard is checked
when it is opened: its size against the manifest each time, its sha256 the first time in a
process; :meth:`ActivationStore.verify` checks them all at once.
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
from safetensors import SafetensorError, safe_open
from tqdm.auto import tqdm
from transformer_lens import HookedTransformer

from simplestories_interp.analysis.hooks import parse_hooks, run_hooks, stop_layer
from simplestories_interp.data.rows import iter_row_batches
from simplestories_interp.devices import parse_dtype
from simplestories_interp.errors import (
    ConfigError,
    IndexOutOfRangeError,
    IntegrityError,
    InvalidArgumentError,
    MissingDirectoryError,
    UnknownHookError,
    require_positive,
)
from simplestories_interp.files import atomic_write_text, claim_output, save_weights
from simplestories_interp.zoo.loading import as_model

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
    """One entry per complete shard: file, rows, tokens, sha256, bytes (absent in older stores)."""
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


def _sha256_file(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


# [batch, pos, head, d_head] hooks: stored flattened, one n_heads * d_head vector per token.
PER_HEAD_HOOKS = ("hook_z", "hook_q", "hook_k", "hook_v", "hook_result")


def _check_token_shaped(model: HookedTransformer, hooks: Sequence[str], stop: int | None) -> None:
    """Refuse hooks whose activation is not [batch, pos, d], from a forward pass over 2 short rows."""
    n_pos = min(model.cfg.n_ctx, 5)
    tokens = torch.zeros((2, n_pos), dtype=torch.long, device=next(model.parameters()).device)
    shapes: dict[str, tuple[int, ...]] = {}

    def record(act: torch.Tensor, hook) -> None:
        shapes[hook.name] = tuple(act.shape)

    with torch.no_grad():
        model.run_with_hooks(tokens, fwd_hooks=[(h, record) for h in hooks], stop_at_layer=stop, return_type=None)
    for h in hooks:
        shape = shapes.get(h)
        per_head = h.rsplit(".", 1)[-1] in PER_HEAD_HOOKS and shape is not None and len(shape) == 4
        if shape is None or not (len(shape) == 3 or per_head) or shape[:2] != (2, n_pos):
            got = "no activation" if shape is None else f"shape {list(shape)} for 2 rows of {n_pos} tokens"
            raise InvalidArgumentError(
                f"hook {h!r} is not token-shaped ({got}); the activation store holds one vector per token: "
                "cache a [batch, pos, d] hook such as blocks.L.hook_resid_post or blocks.L.mlp.hook_post")


def cache_activations(
    model: HookedTransformer | str,
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
    """Cache ``hooks`` of ``model`` (loaded, or a name or folder to load) over ``n_stories`` stories of
    ``source`` into ``out``.

    Resumes automatically when ``out`` holds a partial store written with the same settings (the
    shards it keeps are verified first). Everything is checked before anything is written: a
    bad argument or a hook that is not ``[batch, pos, d]`` leaves no trace on disk.
    """
    model = as_model(model)
    for name, value in (("batch_size", batch_size), ("rows_per_shard", rows_per_shard), ("n_stories", n_stories)):
        require_positive(name, value, allow_none=name == "n_stories")
    if out is None or not str(out).strip():
        raise MissingDirectoryError(f"out must name the store's folder, got {out!r}; e.g. out='activations'")
    hooks = parse_hooks(model, [hooks] if isinstance(hooks, str) else hooks)
    torch_dtype = parse_dtype(dtype)
    stop, device = stop_layer(model, hooks), next(model.parameters()).device
    _check_token_shaped(model, hooks, stop)
    with claim_output(out, "activation store") as out:
        return _fill_store(model, hooks, out, source, n_stories, batch_size, rows_per_shard, torch_dtype, device,
                           stop, progress)


def _fill_store(model, hooks, out: Path, source, n_stories, batch_size, rows_per_shard, torch_dtype, device, stop,
                progress) -> ActivationStore:
    """Run the model and append shards to ``out`` until the source is exhausted (resumes a partial store)."""
    manifest = Manifest(model.cfg.model_name, model_fingerprint(model),
                        {h: 0 for h in hooks}, str(torch_dtype).removeprefix("torch."),
                        model.cfg.n_ctx, source, n_stories, rows_per_shard)
    if (out / MANIFEST).is_file():
        old = Manifest(**json.loads((out / MANIFEST).read_text()))
        _check_resume(old, manifest, out)
        manifest = old
        if manifest.complete:
            return ActivationStore(out)
        ActivationStore(out).verify()  # appending to damaged shards would hide the damage
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
    save_weights(tensors, tmp)
    digest, size = _sha256_file(tmp), tmp.stat().st_size
    os.replace(tmp, out / name)
    manifest.shards.append({"file": name, "rows": n, "tokens": n * n_ctx, "sha256": digest, "bytes": size})
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
        self._verified: set[int] = set()
        """Shards whose sha256 was checked by this object (sizes are checked on every open)."""

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

    def _damaged(self, file: Path, what: str) -> IntegrityError:
        return IntegrityError(
            f"activation store shard {str(file)!r} {what}: the store is damaged; recompute it by deleting "
            f"{str(self.path)!r} and rerunning the same `ssi cache` command")

    def _check(self, shard: int, *, checksum: bool) -> Path:
        """The path of a shard after checking that it exists, its size and (if ``checksum``) its sha256."""
        entry = self.manifest.shards[shard]
        file = self.path / entry["file"]
        try:
            size = file.stat().st_size
        except FileNotFoundError:
            raise self._damaged(file, "is missing") from None
        if "bytes" in entry and size != entry["bytes"]:
            raise self._damaged(file, f"has size {size} bytes, expected {entry['bytes']}")
        if checksum and "sha256" in entry:
            digest = _sha256_file(file)
            if digest != entry["sha256"]:
                raise self._damaged(file, f"has a checksum mismatch (sha256 {digest[:16]}..., "
                                          f"expected {entry['sha256'][:16]}...)")
        self._verified.add(shard)
        return file

    def _open(self, shard: int):
        """``safe_open`` of a checked shard (sha256 only the first time this object opens it)."""
        file = self._check(shard, checksum=shard not in self._verified)
        try:
            return safe_open(str(file), "pt")
        except SafetensorError as exc:  # only reachable for stores without recorded sizes/checksums
            raise self._damaged(file, f"cannot be read ({exc})") from exc

    def incomplete(self) -> str | None:
        """Why this store must not be used as a whole (its ``ssi cache`` run stopped early), or None."""
        if self.manifest.complete:
            return None
        return (f"store {str(self.path)!r} is incomplete: the ssi cache run that wrote it stopped after "
                f"{self.n_tokens:,} tokens ({len(self.manifest.shards)} shard(s)); rerun that ssi cache command "
                "(same --out) to finish it, it resumes where it stopped")

    def verify(self, progress: bool = False) -> int:
        """Check every shard's size and sha256; return the number of shards checked.

        Raises :class:`~simplestories_interp.errors.IntegrityError` on the first bad shard.
        """
        n = len(self.manifest.shards)
        for shard in tqdm(range(n), disable=not progress, desc="verifying", unit=" shards"):
            self._check(shard, checksum=True)
        return n

    def _tensor(self, shard: int, key: str) -> torch.Tensor:
        with self._open(shard) as f:
            return f.get_tensor(key)

    def unk_rate(self, unk_id: int | None) -> float | None:
        """Share of the stored tokens that are ``unk_id``, the model tokenizer's [UNK] (None: it has none)."""
        if unk_id is None:
            return None
        unk = sum(int((self._tensor(s, "tokens") == unk_id).sum()) for s in range(len(self.manifest.shards)))
        return unk / max(1, self.n_tokens)

    def shard(self, index: int, hook: str | None = None) -> torch.Tensor:
        """All [tokens, d] activations of one shard."""
        return self._tensor(index, self._hook(hook))

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.get(index)

    def get(self, index: int, hook: str | None = None) -> torch.Tensor:
        """The activation vector of global token ``index``."""
        shard, local = self._locate(index)
        with self._open(shard) as f:
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
