"""Story sources: where training and analysis text comes from.

A source is named by one string, so the CLI and configs can carry it; :class:`Source` parses it
once (kind, seed, repo, path, separator) and the readers below pass that value down:

* ``synthetic`` (or ``synthetic:SEED``): the built-in corpus of :mod:`.synthetic`;
* ``synthetic-long`` (or ``synthetic-long:SEED``): its long stories, several chapters each
  (:mod:`.long_stories`); ``synthetic-mix[:SEED]``: ordinary stories with every fifth one long;
* ``hub`` or ``hub:REPO`` (default ``SimpleStories/SimpleStories``): streamed with ``datasets``;
* a path: a ``.txt`` file (stories separated by a line such as ``<|endoftext|>``, else by
  blank lines; ``PATH::sep=STRING``, which the CLI's ``--separator STRING`` writes, splits at
  every occurrence of STRING instead), ``.jsonl`` or ``.parquet`` (a ``story`` or ``text``
  column), or a directory of such files (e.g. the shards ``ssi data synth`` writes).

Every story is cleaned as the SimpleStories recipe does (curly quotes and dashes to ASCII), after
repairing mojibake (UTF-8 read as Windows-1252: "â€™" is the apostrophe it stands for). A .txt
file whose split looks wrong (one huge story, or a few stories far longer than the median: missing
separators) gets a warning with the counts.
"""

from __future__ import annotations

import json
import re
import statistics
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from itertools import islice
from pathlib import Path
from typing import Literal

from simplestories_interp.data import corpus
from simplestories_interp.data.tokenizer import _clean_text
from simplestories_interp.errors import DataError, HubOfflineError, MissingDirectoryError
from simplestories_interp.offline import is_offline

HUB_DATASET = "SimpleStories/SimpleStories"
SEPARATOR = re.compile(r"^\s*(<\|endoftext\|>|\[EOS\]|-{3,}|={3,})\s*$", re.MULTILINE)
_SUFFIXES = (".txt", ".jsonl", ".parquet")
_SEP_OPTION = "::sep="


SourceKind = Literal["synthetic", "synthetic-long", "synthetic-mix", "hub", "path"]
_SYNTHETIC = ("synthetic", "synthetic-long", "synthetic-mix")


@dataclass(frozen=True)
class Source:
    """A story source, parsed once from the string that names it (see the module docstring).

    Public readers take the string or a ``Source`` and parse at their entry; everything below
    them reads these fields, never the string. ``str(source)`` gives the string back.
    """

    kind: SourceKind
    seed: int | None = None
    """The corpus seed of a synthetic kind (None: not given, the corpus's default 0)."""
    repo: str | None = None
    """The data set of ``hub`` (None: not given, ``SimpleStories/SimpleStories``)."""
    path: str | None = None
    """The file or folder of ``path``, as given."""
    separator: str | None = None
    """The string between stories of a .txt source (``PATH::sep=S``); None: separator lines or blank lines."""

    @classmethod
    def parse(cls, source: str | Source) -> Source:
        if isinstance(source, Source):
            return source
        head, _, arg = source.partition(":")
        if head in _SYNTHETIC:
            if arg and not (arg.isascii() and arg.isdigit()):
                raise DataError(f"story source {source!r}: the seed after '{head}:' must be a non-negative "
                                f"integer, e.g. {head}:42")
            return cls(head, seed=int(arg) if arg else None)
        if head == "hub":
            return cls("hub", repo=arg or None)
        path, found, separator = source.partition(_SEP_OPTION)
        return cls("path", path=path, separator=separator if found else None)

    def __str__(self) -> str:
        if self.kind == "path":
            return self.path + (f"{_SEP_OPTION}{self.separator}" if self.separator is not None else "")
        arg = self.repo if self.kind == "hub" else self.seed
        return self.kind + (f":{arg}" if arg is not None else "")

    @property
    def synthetic(self) -> bool:
        """Whether this names a built-in generated corpus (labels and annotations included)."""
        return self.kind in _SYNTHETIC

    @property
    def hub_repo(self) -> str:
        return self.repo or HUB_DATASET

    def with_seed(self, seed: int) -> Source:
        """A synthetic source at ``seed`` unless it names its own (a new epoch of an endless stream)."""
        return replace(self, seed=seed) if self.synthetic and self.seed is None else self

    def files(self) -> list[Path]:
        """The story files of a ``path`` source (the file, or the folder's story files, sorted)."""
        return _files(Path(self.path))


def with_separator(source: str | Source, separator: str) -> str:
    """``source`` read with ``separator`` between stories (the CLI's ``--separator``)."""
    src = Source.parse(source)
    if not separator:
        raise DataError("--separator must not be empty")
    if src.kind != "path" or not (src.path.endswith(".txt") or Path(src.path).is_dir()):
        raise DataError(f"--separator applies to .txt story files (or folders of them), not {str(source)!r}; "
                        "give the file with --data FILE.txt")
    return str(replace(src, separator=separator))


def has_annotations(source: str | Source) -> bool:
    """Whether the stories of ``source`` come with annotations: the synthetic corpora, and .jsonl
    files whose records carry them (the shards ``ssi data synth`` writes)."""
    src = Source.parse(source)
    if src.synthetic:
        return True
    if src.kind == "hub" or not Path(src.path).exists() or any(f.suffix != ".jsonl" for f in src.files()):
        return False
    first = next(iter_records(src, limit=1), None)
    return isinstance(first, dict) and isinstance(first.get("annotations"), list)


def _generator(src: Source):
    return {"synthetic-long": corpus.generate_long_stories,
            "synthetic-mix": corpus.generate_mixed_stories}.get(src.kind, corpus.generate_stories)


def iter_stories(source: str | Source, *, limit: int | None = None, split: str = "train",
                 start: int = 0) -> Iterator[str]:
    """Stories (cleaned strings) from a source; see the module docstring."""
    return islice(_raw(Source.parse(source), split, start), limit)


def iter_records(source: str | Source, *, limit: int | None = None, start: int = 0) -> Iterator[dict]:
    """Records with labels and annotations (synthetic sources and jsonl shards only)."""
    src = Source.parse(source)
    if src.synthetic:
        return islice(_generator(src)(limit or 10**12, seed=src.seed or 0, start=start), limit)
    return islice((r for f in src.files() for r in _jsonl(f)), start, None if limit is None else start + limit)


def _raw(src: Source, split: str, start: int) -> Iterator[str]:
    if src.synthetic:
        return (r["story"] for r in _generator(src)(10**12, seed=src.seed or 0, start=start))
    if src.kind == "hub":
        return islice(_hub(src.hub_repo, split), start, None)
    return islice((_clean_text(_not_huge(s, f)) for f in src.files() for s in _read(f, src.separator)), start, None)


MAX_STORY_CHARS = 1_000_000
"""Longest story accepted (~250k tokens, 500 contexts of 512): one story longer than this is a file whose
separators were not found, and tagging or tokenising it as one text took minutes and 10 GB."""


def _not_huge(story: str, path: Path) -> str:
    if len(story) > MAX_STORY_CHARS:
        fix = ("its stories are not separated; put a blank line or a line like <|endoftext|> between them, or "
               "name the separator with --separator") if path.suffix == ".txt" else "split it into stories"
        raise DataError(f"{str(path)!r} holds a story of {len(story):,} characters (at most {MAX_STORY_CHARS:,}): "
                        f"{fix}")
    return story


def _files(path: Path) -> list[Path]:
    if not path.exists():
        raise MissingDirectoryError(
            f"story source {str(path)!r} does not exist; use a .txt/.jsonl/.parquet file, a "
            "directory of them, 'synthetic' (the built-in corpus) or 'hub'"
        )
    if path.is_file():
        return [path]
    files = sorted(p for p in path.iterdir() if p.suffix in _SUFFIXES)
    if not files:
        raise DataError(f"directory {str(path)!r} holds no {'/'.join(_SUFFIXES)} files")
    return files


def _read(path: Path, separator: str | None = None) -> Iterator[str]:
    if path.suffix == ".jsonl":
        return (_story_field(r, path, n) for n, r in _numbered_jsonl(path))
    if path.suffix == ".parquet":
        return _parquet(path)
    if path.suffix == ".txt":
        return _txt(path, separator)
    raise DataError(f"unsupported story file {str(path)!r}: use .txt, .jsonl or .parquet")


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{str(path)!r} is not UTF-8 text ({exc.reason} at byte {exc.start}); "
                        "convert it with `iconv -t utf-8`") from exc
    except OSError as exc:
        raise DataError(f"cannot read {str(path)!r}: {exc.strerror}") from exc


def _txt(path: Path, separator: str | None = None) -> Iterator[str]:
    text = _text(path)
    if separator is not None:
        parts, how = text.split(separator), f"at every {separator!r}"
    elif SEPARATOR.search(text):
        parts, how = SEPARATOR.split(text), "at separator lines"
    else:
        parts, how = re.split(r"\n\s*\n", text), "at blank lines"
    stories = [p.strip() for p in parts if p.strip() and not SEPARATOR.fullmatch(p.strip())]
    if (problem := split_problem([len(s) for s in stories])) is not None:
        warnings.warn(f"{str(path)!r} split {how} into {len(stories)} stories, but {problem}", stacklevel=2)
    return iter(stories)


def split_problem(lengths: list[int]) -> str | None:
    """What looks wrong with a file's split into stories of these lengths (characters), if anything."""
    if not lengths:
        return None
    median = statistics.median(lengths)
    if len(lengths) == 1 and lengths[0] > 20_000:
        return (f"that one story has {lengths[0]:,} characters; separate stories by blank lines or a line like "
                "<|endoftext|>, or name the separator with --separator")
    huge = sorted((n for n in lengths if n > 10 * median), reverse=True)
    if huge and len(huge) <= max(3, len(lengths) // 20):
        return (f"{len(huge)} of them are over 10x the median length ({median:,.0f} characters; longest "
                f"{huge[0]:,}): separators may be missing there (--separator names the right one)")
    return None


def _jsonl(path: Path) -> Iterator[dict]:
    return (record for _, record in _numbered_jsonl(path))


def _numbered_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    for n, line in enumerate(_text(path).splitlines(), 1):
        if line.strip():
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{str(path)!r} line {n} is not JSON: {exc.msg}") from exc
            if not isinstance(record, dict):
                raise DataError(f"{str(path)!r} line {n} is not a JSON object (got {type(record).__name__} "
                                f"{line.strip()[:40]!r}); each line must be like {{\"story\": \"...\"}}")
            yield n, record


def _story_field(record: dict, path: Path, line: int) -> str:
    for key in ("story", "text"):
        if isinstance(record.get(key), str):
            return record[key]
    present = next((key for key in ("story", "text") if key in record), None)
    if present is not None:
        value = record[present]
        raise DataError(f"{str(path)!r} line {line}: {present!r} must be the story's text (a JSON string), got "
                        f"{type(value).__name__} {json.dumps(value)[:40]}; write it as {{\"{present}\": \"...\"}}")
    raise DataError(f"{str(path)!r}: records need a 'story' or 'text' field, got keys {sorted(record)}")


def _parquet(path: Path) -> Iterator[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises ArrowInvalid and friends
        raise DataError(f"cannot read parquet {str(path)!r}: {exc}") from exc
    column = next((c for c in ("story", "text") if c in table.schema_arrow.names), None)
    if column is None:
        raise DataError(f"{str(path)!r} has no 'story' or 'text' column: {table.schema_arrow.names}")
    kind = table.schema_arrow.field(column).type
    text = kind.value_type if pa.types.is_dictionary(kind) else kind  # a categorical column of strings is text
    if not (pa.types.is_string(text) or pa.types.is_large_string(text) or str(text) == "string_view"):
        raise DataError(f"{str(path)!r}: column {column!r} must hold the stories' text (strings), but its type is "
                        f"{kind}; store the text itself in {column!r}")
    for batch in table.iter_batches(columns=[column]):
        yield from (s for s in batch.column(0).to_pylist() if s)


def _hub(repo: str, split: str) -> Iterator[str]:
    if is_offline():
        raise HubOfflineError(
            f"the hub data set {repo!r} cannot be streamed offline (HF_HUB_OFFLINE is set). Use the "
            "built-in corpus instead: --data synthetic"
        )
    import datasets

    try:
        stream = datasets.load_dataset(repo, split=split, streaming=True)
        for row in stream:
            yield _clean_text(row["story"])
    except (ConnectionError, OSError) as exc:
        raise HubOfflineError(
            f"cannot stream {repo!r} from the Hugging Face Hub ({type(exc).__name__}). Offline, "
            "use the built-in corpus: --data synthetic"
        ) from exc
