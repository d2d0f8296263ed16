"""Tokenise stories and pack them into fixed-length rows on disk, as SimpleStories does.

Stories are joined with ``[EOS]`` (each story follows one, so ``[EOS]`` doubles as BOS;
:func:`.rows.story_ids` is the one stream every kind of rows is cut from), the stream is cut
into rows of ``n_ctx`` tokens with no padding, and the rows are written to a
``uint16`` memory map. ``[UNK]`` tokens are counted and reported (the public SimpleStories
code drops them silently; we keep them, so the count is the truth).

A packed set lives in one directory keyed by a hash of (what the source reads, limit,
tokenizer, n_ctx, val_fraction) under the cache folder (``$SSI_CACHE_DIR`` or
``~/.cache/simplestories_interp``) and is reused when asked again; see :func:`source_identity`
for what stands for the source: for a file or folder, its absolute path and the size, mtime and
sha256 of every file it reads, so an edited corpus (or the same relative name in another
directory) is packed afresh. It is written to a temporary directory and renamed, so an
interrupted run never leaves a half-written set behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from simplestories_interp.data.rows import story_ids
from simplestories_interp.data.sources import Source, iter_stories
from simplestories_interp.data.tokenizer import UNK_ID, separator_id
from simplestories_interp.errors import DataError
from simplestories_interp.files import dir_mode

TOKENS_FILE, META_FILE = "{split}.bin", "meta.json"


@dataclass
class PackedMeta:
    source: str
    n_ctx: int
    d_vocab: int
    n_stories: int
    rows: dict
    """Rows per split (``train``, ``val``)."""
    tokens: int
    unk_tokens: int
    tokenizer_sha: str


def cache_root() -> Path:
    return Path(os.environ.get("SSI_CACHE_DIR") or Path.home() / ".cache" / "simplestories_interp")


def _tokenizer_sha(tokenizer) -> str:
    """Identifies what the tokenizer makes of stories: its vocabulary and rules, and the separator."""
    blob = tokenizer.backend_tokenizer.to_str() + f"|separator={separator_id(tokenizer)}"
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _file_sha(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _stats(files: list[Path]) -> list[tuple[int, int]]:
    return [(s.st_size, s.st_mtime_ns) for s in (f.stat() for f in files)]


# What the text cleaning does (data.tokenizer._clean_text); part of a file's or the hub's pack key, so
# text packed before a change of the cleaning (2: mojibake repaired) is packed again.
CLEANING = "cleaning-2"


def source_identity(source: str | Source) -> list:
    """What stands for ``source`` in the cache key.

    * ``synthetic[-long][:SEED]``: the string itself (the corpus is a pure function of the seed);
    * ``hub[:REPO]``: ``["hub", REPO]`` with the default repo filled in. The revision is *not*
      part of it: the data set is streamed from the current ``main`` (nothing is snapshotted in
      the HF cache to read a commit from), and asking the hub for it would need the network and
      so make an offline run miss a set it packed before. Delete the packed directory to re-stream;
    * a file or folder: its resolved absolute path and, for every file it reads, the path
      relative to the source, size, ``st_mtime_ns`` and the sha256 of the whole file. The hash is a
      full streaming read (1 MiB blocks) on every :func:`pack` call, hit or miss: about a second
      per GB on one core (milliseconds for the few-MB corpora, well under a second for a few
      hundred MB), small next to tokenising. Touching a file without changing it also re-packs.
    """
    src = Source.parse(source)
    if src.synthetic:
        return [str(src)]
    if src.kind == "hub":
        return ["hub", src.hub_repo, CLEANING]
    root = Path(src.path).resolve()
    files = Source("path", path=str(root)).files()
    entries = [[f.name if f == root else f.relative_to(root).as_posix(), size, mtime, _file_sha(f)]
               for f, (size, mtime) in zip(files, _stats(files), strict=True)]
    return (["path", str(root), entries, CLEANING]
            + ([["separator", src.separator]] if src.separator is not None else []))


def pack_key(source: str | Source, limit: int | None, tokenizer, n_ctx: int, val_fraction: float) -> str:
    """The cache directory name: a hash of (:func:`source_identity`, limit, the tokenizer's
    :func:`_tokenizer_sha`, n_ctx, val_fraction)."""
    blob = json.dumps([source_identity(source), limit, _tokenizer_sha(tokenizer), n_ctx, val_fraction])
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


class _RowWriter:
    """Appends tokens and writes complete rows of n_ctx to a uint16 file."""

    def __init__(self, path: Path, n_ctx: int):
        self.file, self.n_ctx, self.pending, self.rows = open(path, "wb"), n_ctx, [], 0

    def add(self, ids: list[int]) -> None:
        self.pending.extend(ids)
        full = len(self.pending) // self.n_ctx
        if full:
            chunk = np.asarray(self.pending[: full * self.n_ctx], dtype=np.uint16)
            chunk.tofile(self.file)
            self.pending = self.pending[full * self.n_ctx:]
            self.rows += full

    def close(self) -> int:
        self.file.close()
        return self.rows


def pack(source: str | Source, tokenizer, n_ctx: int, *, limit: int | None = None,
         val_fraction: float = 0.01, out: Path | None = None, progress: bool = True) -> Path:
    """Pack ``limit`` stories of ``source`` into train/val rows; return the directory.

    The last ``val_fraction`` of the stories (at least one) form the held-out split.
    Reuses a finished directory with the same key.
    """
    if n_ctx < 2:
        raise DataError(f"n_ctx must be at least 2, got {n_ctx}")
    if len(tokenizer) > 65536:
        raise DataError(f"vocabulary of {len(tokenizer)} tokens does not fit uint16 rows")
    source = Source.parse(source)
    if limit is None and source.synthetic:
        raise DataError("the synthetic corpus is endless: give the number of stories (--n-stories)")
    files = source.files() if source.kind == "path" else None
    before = files and _stats(files)  # taken before the key's hashes, so no edit slips in between
    out = out or cache_root() / "packed" / pack_key(source, limit, tokenizer, n_ctx, val_fraction)
    if (out / META_FILE).is_file():
        return out
    stories = list(tqdm(iter_stories(source, limit=limit), desc="reading stories",
                        disable=not progress, unit=" stories"))
    if files and _stats(files) != before:
        raise DataError(f"story source {str(source)!r} changed while it was being read; pack it again")
    if not stories:
        raise DataError(f"story source {str(source)!r} yielded no stories; check the path or format")
    n_val = n_val_stories(len(stories), val_fraction)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".pack.", dir=out.parent))
    os.chmod(tmp, dir_mode())  # mkdtemp makes 0700
    try:
        meta = _write_splits(stories, n_val, tokenizer, n_ctx, tmp, progress)
        meta.source = str(source)
        if meta.rows["train"] == 0:
            raise DataError(
                f"{len(stories) - n_val} stories make {meta.tokens} tokens, fewer than one row of "
                f"n_ctx={n_ctx}: use more stories or a shorter context"
            )
        (tmp / META_FILE).write_text(json.dumps(asdict(meta), indent=2))
        os.replace(tmp, out) if not out.exists() else shutil.rmtree(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def n_val_stories(n_stories: int, val_fraction: float) -> int:
    """How many of ``n_stories`` stories (the last ones) are held out: ``val_fraction`` of them, at least one."""
    return max(1, round(n_stories * val_fraction)) if n_stories > 1 and val_fraction > 0 else 0


def _write_splits(stories, n_val, tokenizer, n_ctx, directory: Path, progress) -> PackedMeta:
    splits = {"train": stories[: len(stories) - n_val], "val": stories[len(stories) - n_val:]}
    rows, tokens, unk = {}, 0, 0
    for split, subset in splits.items():
        writer = _RowWriter(directory / TOKENS_FILE.format(split=split), n_ctx)
        for ids in tqdm(story_ids(subset, tokenizer), total=len(subset), disable=not progress,
                        desc=f"tokenising {split}", unit=" stories"):
            writer.add(ids)
            tokens += len(ids)
            unk += ids.count(UNK_ID)
        rows[split] = writer.close()
    return PackedMeta("", n_ctx, len(tokenizer), len(stories), rows, tokens, unk, _tokenizer_sha(tokenizer))


def load_rows(directory: Path, split: str = "train") -> np.ndarray:
    """The packed rows of a split as a read-only ``[rows, n_ctx]`` uint16 memory map."""
    meta = read_meta(directory)
    n = meta.rows[split]
    if n == 0:
        return np.zeros((0, meta.n_ctx), dtype=np.uint16)
    return np.memmap(directory / TOKENS_FILE.format(split=split), dtype=np.uint16, mode="r",
                     shape=(n, meta.n_ctx))


def read_meta(directory: Path) -> PackedMeta:
    return PackedMeta(**json.loads((Path(directory) / META_FILE).read_text()))
