"""Writing to disk so that nothing is lost: atomic directories and files, writable checks.

Long jobs (training, caching, SAE training) and every saved artifact go through these
helpers: content is written under a temporary name next to its target and renamed into place,
so a job killed at any moment leaves the old version or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from simplestories_interp.errors import MissingDirectoryError


def ensure_writable(directory: str | Path) -> Path:
    """Create ``directory`` if needed and check that files can be written in it."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / ".write_test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise MissingDirectoryError(f"cannot write to {str(directory)!r}: {exc.strerror}") from exc
    return directory


@contextlib.contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling directory; on success it replaces ``target`` in one rename."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp", dir=target.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700; a saved artifact should not be private
    try:
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


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def keep_last(directory: Path, prefix: str, keep: int) -> None:
    """Delete all but the last ``keep`` entries named ``prefix*`` (sorted by name)."""
    for old in sorted(p for p in directory.iterdir() if p.name.startswith(prefix))[:-keep or None]:
        shutil.rmtree(old, ignore_errors=True)
