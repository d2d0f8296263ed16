"""Writing to disk so that nothing is lost: atomic directories and files, output folders, locks.

Long jobs (training, caching, SAE training) and every saved artifact go through these
helpers: content is written under a temporary name next to its target and renamed into place,
so a job killed at any moment leaves the old version or the new one, never half of one.

A job that writes a folder first *claims* it (:func:`claim_output`): the path is checked (not
empty, not a file, not a folder holding another kind of artifact, writable), the folder is
marked with its kind (``.ssi-kind``) and locked (``flock`` on ``.ssi-lock``) for the job's
lifetime, so a second process writing the same ``--out`` is refused instead of clobbering the
first; and a job that fails before leaving anything resumable removes the folder it created.
A full disk is reported as such (:func:`disk_errors`), not as the writer's internal message.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from simplestories_interp.errors import (
    DiskFullError,
    InvalidArgumentError,
    MissingDirectoryError,
    OutputInUseError,
    OutputWouldReplaceError,
    PermissionDeniedError,
)


def require_utf8(text: str, what: str) -> str:
    """``text`` if it is valid UTF-8; Python keeps undecodable bytes of argv and file names as lone
    surrogates, which fail only later, when the text is tokenised or written into a JSON card."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        byte = ord(text[exc.start]) - 0xDC00 if 0xDC80 <= ord(text[exc.start]) <= 0xDCFF else ord(text[exc.start])
        shown = text.encode("utf-8", "surrogateescape" if 0xDC80 <= ord(text[exc.start]) <= 0xDCFF else "replace")
        raise InvalidArgumentError(f"{what} {shown!r} is not valid UTF-8 (byte {byte:#04x} at character "
                                   f"{exc.start}); ssi reads and writes text and file names as UTF-8: retype it, "
                                   "or rename the file with a UTF-8 name") from None
    return text


def output_path(path: str | Path, what: str = "--out") -> Path:
    """``path`` as a Path with ``~`` expanded; refuses an empty path, an unknown ``~user`` and a name
    that is not UTF-8 (refused before the work, not at the export after it)."""
    if path is None:  # str(None) would make a folder named "None"
        raise MissingDirectoryError(f"{what} must name a folder, got None; e.g. {what} runs/my_run")
    text = require_utf8(str(path), what)
    if not text.strip():
        raise MissingDirectoryError(f"{what} must name a folder, got {text!r}; e.g. {what} runs/my_run")
    try:
        expanded = Path(text).expanduser()
    except RuntimeError:  # Python cannot find that user's home
        expanded = Path(text)
    if str(expanded).startswith("~"):
        raise MissingDirectoryError(f"{what} {text!r} starts with an unknown user's home "
                                    f"({text.split('/')[0]!r}); write the path out in full")
    return expanded


def ensure_writable(directory: str | Path) -> Path:
    """Create ``directory`` if needed and check that files can be written in it."""
    directory = output_path(directory)
    if directory.exists() and not directory.is_dir():
        raise MissingDirectoryError(f"{str(directory)!r} is a file, but a folder is needed here; "
                                    "choose another path or remove the file")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / ".write_test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise MissingDirectoryError(f"cannot write to {str(directory)!r}: {exc.strerror or exc}; "
                                    "choose a folder you can write to") from exc
    return directory


#: Marks every HTML page this library writes, so that ``--out`` may replace it (and nothing else).
GENERATOR_META = "<meta name='generator' content='simplestories_interp'>"
# Artifact folders whose files an output page must never replace (reports are pages themselves).
_PROTECTED_KINDS = ("model", "SAE", "activation store", "training run", "story corpus", "head analysis")


def written_here(path: Path) -> bool:
    """Whether ``path`` is a page this library wrote (it carries :data:`GENERATOR_META`)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return GENERATOR_META in f.read(4096)
    except OSError:
        return False


def _artifact_kind(folder: Path) -> str | None:
    """The kind of artifact ``folder`` holds, counting only folders ssi claimed or that hold weights or
    shards (a project folder with a config.json of its own is not a model)."""
    if (folder / KIND_FILE).is_file() or any(folder.glob("*.safetensors")):
        return folder_kind(folder)
    return None


def _inputs_hit(path: Path, inputs) -> str | None:
    for source in inputs:
        text = str(source or "").split("::")[0]
        if text and Path(text).expanduser().exists():
            given = Path(text).expanduser().resolve()
            if path == given or given in path.parents:
                return str(source)
    return None


def ensure_file_target(path: str | Path, what: str = "--out", inputs=()) -> Path:
    """A file path to write (e.g. an HTML page): not a folder, its folder writable, and replacing nothing
    but a page this library wrote: never one of ``inputs`` (paths the command reads, or a file inside
    them), a file inside a model, SAE, store or run folder, or a file from elsewhere."""
    path = output_path(path, what)
    if path.is_dir():
        raise MissingDirectoryError(f"{what} {str(path)!r} is a folder, but a file name is expected "
                                    f"here; e.g. {what} {path / 'page.html'}")
    resolved = path.resolve()
    hit = _inputs_hit(resolved, inputs)
    if hit is not None:
        raise OutputWouldReplaceError(f"{what} {str(path)!r} would overwrite {hit!r}, an input of this command; "
                                      f"write the page elsewhere, e.g. {what} page.html")
    kind = next((k for folder in list(resolved.parents)[:2] if (k := _artifact_kind(folder)) in _PROTECTED_KINDS),
                None)
    if kind is not None:
        raise OutputWouldReplaceError(f"{what} {str(path)!r} is inside {_a(kind)} folder, whose files an output "
                                      f"page must not replace; write it elsewhere, e.g. {what} page.html")
    if path.exists() and not written_here(path):
        raise OutputWouldReplaceError(f"{what} {str(path)!r} exists and was not written by ssi; ssi replaces only "
                                      "pages it wrote: choose a new file name or remove the file yourself")
    _check_can_create(path.parent)  # folders are made when the page is written, so a failed run leaves none
    return path


def _top_missing(directory: Path) -> Path | None:
    """The highest folder of ``directory`` (itself included) that does not exist yet."""
    missing = None
    for folder in (directory, *directory.parents):
        if folder.exists():
            break
        missing = folder
    return missing


def _check_can_create(directory: Path) -> None:
    """``directory`` exists as a writable folder, or could be made inside one, without making anything."""
    existing = next(folder for folder in (directory, *directory.parents) if folder.exists())
    if not existing.is_dir():
        raise MissingDirectoryError(f"{str(existing)!r} is a file, but a folder is needed here; choose another "
                                    "path or remove the file")
    if existing == directory:
        ensure_writable(directory)
    elif not os.access(existing, os.W_OK | os.X_OK):
        raise MissingDirectoryError(f"cannot write to {str(directory)!r}: {str(existing)!r} is not writable; "
                                    "choose a folder you can write to")


def remove_created(directory: Path, top: Path | None) -> None:
    """Remove ``directory`` and the empty folders above it up to ``top``, the highest one a job created."""
    if top is None:
        return
    shutil.rmtree(directory, ignore_errors=True)
    for folder in directory.parents:
        if not folder.is_relative_to(top):
            break
        with contextlib.suppress(OSError):
            folder.rmdir()  # only while empty


KIND_FILE, LOCK_FILE = ".ssi-kind", ".ssi-lock"
# How folders written before the kind file existed are recognised.
KIND_MARKERS = {"manifest.json": "activation store", "config.yaml": "training run", "cfg.json": "SAE",
                "config.json": "model", "summary.txt": "report"}


def _a(noun: str) -> str:
    return ("an " if noun[0] in "aeiou" else "a ") + noun


def folder_kind(directory: Path) -> str | None:
    """The kind of artifact ``directory`` holds (None: empty, missing or unrecognised)."""
    if (directory / KIND_FILE).is_file():
        return (directory / KIND_FILE).read_text().strip() or None
    return next((kind for name, kind in KIND_MARKERS.items() if (directory / name).exists()), None)


def _has_progress(directory: Path) -> bool:
    """Whether a failed job left something a rerun resumes from or reuses: checkpoints, store shards, or
    (in a study's folder) a finished or resumable artifact below it, such as an SAE under ``saes/``."""
    for folder in (directory, *(p.parent for p in directory.glob("*/**/" + KIND_FILE))):
        checkpoints = folder / "checkpoints"
        if (checkpoints.is_dir() and any(checkpoints.iterdir())) or (folder / "manifest.json").is_file():
            return True
        if folder != directory and any(folder.glob("*.safetensors")):
            return True
    return False


@contextlib.contextmanager
def claim_output(path: str | Path, kind: str) -> Iterator[Path]:
    """Hold ``path`` as the output folder of a job of ``kind`` (``"training run"``, ``"SAE"``, ...).

    Refuses a file, a folder holding another kind of artifact, an unwritable place, and a folder
    that another process is writing (:class:`OutputInUseError`). If the job raises before it
    leaves anything resumable, a folder this call created is removed again.
    """
    import fcntl

    directory = output_path(path)
    created = _top_missing(Path(os.path.abspath(directory)))  # normalised: "new/../old" must not reach old
    ensure_writable(directory)
    found = folder_kind(directory)
    if found not in (None, kind):  # a folder this call created holds nothing yet
        raise OutputInUseError(f"{str(directory)!r} holds {_a(found)}, not {_a(kind)}; choose another --out")
    lock = open(directory / LOCK_FILE, "a+")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        owner = lock.read().strip() or "another process"
        lock.close()
        raise OutputInUseError(f"{str(directory)!r} is being written by another ssi job ({owner}); wait for it "
                               "to finish or choose another --out") from None
    lock.seek(0)
    lock.truncate()
    lock.write(f"pid {os.getpid()}")
    lock.flush()
    (directory / KIND_FILE).write_text(kind + "\n")
    try:
        with disk_errors(directory):
            yield directory
    except BaseException:  # Ctrl-C before any progress leaves nothing either
        if not _has_progress(directory):
            remove_created(Path(os.path.abspath(directory)), created)  # with the parent folders this call made
        raise
    finally:
        lock.close()  # closing releases the lock


@contextlib.contextmanager
def readable() -> Iterator[None]:
    """Report a file or folder the process may not read as :class:`PermissionDeniedError` (not as corrupt)."""
    try:
        yield
    except PermissionError as exc:
        if isinstance(exc, PermissionDeniedError):
            raise
        raise PermissionDeniedError(f"permission denied reading {exc.filename or 'a file'!r}; the file is not "
                                    "damaged: make it readable (chmod u+r) or run as its owner") from exc


# How writers that are not Python's own (safetensors' Rust core, torch's C++ stream) word a full disk.
_FULL_DISK_WORDS = ("no space left on device", "os error 28", "disk quota exceeded", "os error 122")


def _is_disk_full(exc: BaseException, where: Path) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if any(words in str(exc).lower() for words in _FULL_DISK_WORDS):
        return True
    # torch.save reports a full disk as a RuntimeError about a failed write, without the OS's words.
    if isinstance(exc, RuntimeError) and "writ" in str(exc).lower():
        with contextlib.suppress(OSError):
            return shutil.disk_usage(where).free < 64 * 2**20
    return False


def _visible(path: Path) -> Path:
    """``path`` up to its first temporary part (``.step_0000002.tmpXYZ``): the name a person chose."""
    parts = path.parts
    cut = next((i for i, part in enumerate(parts) if part.startswith(".") and ".tmp" in part[1:]), len(parts))
    shown = Path(*parts[:cut]) if cut else path
    return shown.with_name(shown.name.removesuffix(".tmp")) if shown.name.endswith(".tmp") else shown


@contextlib.contextmanager
def disk_errors(where: str | Path) -> Iterator[None]:
    """Report a full disk while writing under ``where`` as :class:`DiskFullError`."""
    try:
        yield
    except Exception as exc:  # safetensors raises its own SafetensorError, neither OSError nor RuntimeError
        if not isinstance(exc, DiskFullError) and _is_disk_full(exc, Path(where)):
            shown = str(_visible(Path(where)))
            raise DiskFullError(f"no space left on device while writing {shown!r}; free some space or "
                                "choose another --out, then rerun the same command (it resumes)") from exc
        raise


@contextlib.contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling directory; on success it replaces ``target`` in one rename."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp", dir=target.parent))
    os.chmod(tmp, dir_mode())  # mkdtemp makes 0700; a saved artifact should not be private
    try:
        with disk_errors(target):
            yield tmp
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old", dir=target.parent))
            os.replace(target, old / target.name)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows."""
    try:  # Linux reports the umask without changing it (os.umask would, for every thread, for a moment)
        with open("/proc/self/status") as f:
            umask = next(int(line.split()[1], 8) for line in f if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        umask = os.umask(0o022)
        os.umask(umask)
    return umask


def file_mode() -> int:
    """The mode a new ordinary file gets under the process umask (``0o666 & ~umask``: 0o644 for 022)."""
    return 0o666 & ~current_umask()


def dir_mode() -> int:
    """The mode a new folder gets under the process umask (``0o777 & ~umask``)."""
    return 0o777 & ~current_umask()


def save_weights(tensors: dict, path: Path, metadata: dict | None = None) -> None:
    """``save_file`` with the file mode of any other file written beside it.

    safetensors >= 0.8 writes through a ``tempfile::NamedTempFile`` (always mode 0600) renamed into
    place, ignoring the umask (safetensors issue #782), so weights came out private, unlike
    ``config.json`` next to them; the mode is set back to ``0o666 & ~umask`` here.
    """
    from safetensors.torch import save_file

    with disk_errors(path):
        save_file(tensors, str(path), metadata=metadata)
    os.chmod(path, file_mode())




def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and a rename."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename (bytes kept exactly)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with disk_errors(path):
        tmp.write_bytes(data)
    os.replace(tmp, path)
    return path


def keep_last(directory: Path, prefix: str, keep: int) -> None:
    """Delete all but the last ``keep`` (at least one) entries named ``prefix*`` (sorted by name)."""
    if keep < 1:
        raise ValueError(f"keep_last must keep at least one entry, got {keep}")
    for old in sorted(p for p in directory.iterdir() if p.name.startswith(prefix))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
