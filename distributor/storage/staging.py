"""Staging files (the temp files stores fill before renaming them into place), their safe removal
after a crash, and durable renames.

The rule that makes staging files safe to sweep while several processes (uvicorn workers, a CLI
publish) share one data directory: a writer holds an exclusive `flock` on its staging file from
the moment it creates it (`create_locked_temp`) until the file has been renamed into place or
removed; the kernel drops the lock when the holder exits, kill -9 included. `sweep_staging`
removes a staging file only when it can take that lock itself without waiting, so only files no
live process owns, and it unlinks while holding the lock. A writer that created its file but
lost the race for the lock to a sweep finds the file gone once it holds the lock, and makes a new
one. So a sweep never removes a file another process is writing, needs no age threshold, and may
run at any time: the server sweeps every store at start (each worker), and every publish sweeps
the blob store's staging files. (`flock` is honoured across NFS clients on Linux, as POSIX locks.)

`replace_durably` is the "rename into place" every store uses: `os.replace`, then an fsync of the
target's directory, so the new name survives a power loss before anything (a catalog row, a chunk
location) refers to it; `make_dirs_durably` likewise fsyncs the parent of each directory it makes.

Error contract: `create_locked_temp`, `replace_durably`, `make_dirs_durably` and `fsync_dir` raise
`OSError` (the stores translate it into `StorageError`); `sweep_staging` never raises: a file it
cannot inspect or remove is left for the next sweep.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger(__name__)

_CREATE_ATTEMPTS = 5


def fsync_dir(path: Path) -> None:
    """Make the entries of directory `path` (names created, renamed or removed) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs_durably(path: Path) -> None:
    """`mkdir -p path`, fsyncing the parent of each directory made (existing ones are kept)."""
    missing: list[Path] = []
    current = path
    while not current.is_dir():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir()
        fsync_dir(directory.parent)


def replace_durably(source: Path, target: Path) -> None:
    """Rename `source` onto `target` (same file system) and fsync the target's directory."""
    os.replace(source, target)
    fsync_dir(target.parent)


def create_locked_temp(directory: Path, prefix: str, suffix: str = "") -> tuple[int, Path]:
    """A new staging file in `directory` (made if missing), open for writing and exclusively
    `flock`ed by the returned descriptor; closing the descriptor releases it, so close it only
    after the file is renamed into place or removed."""
    directory.mkdir(parents=True, exist_ok=True)
    for _ in range(_CREATE_ATTEMPTS):
        fd, name = tempfile.mkstemp(dir=directory, prefix=prefix, suffix=suffix)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if _same_file(fd, Path(name)):
                return fd, Path(name)
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # a sweep removed it between mkstemp and flock: make another
    raise OSError(f"staging files in {directory} keep disappearing (a sweep in a loop?)")


def sweep_staging(candidates: Iterable[Path]) -> list[Path]:
    """Remove each candidate staging file that no live process holds locked; returns the removed
    ones. A missing directory or file is not an error."""
    removed: list[Path] = []
    try:
        paths = sorted(candidates)
    except OSError as exc:
        log.warning("cannot list staging files: %s", exc)
        return removed
    for path in paths:
        if _remove_if_unowned(path):
            log.warning("removed %s, left behind by a writer that died", path)
            removed.append(path)
    return removed


def _remove_if_unowned(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False  # gone (committed or removed) or not ours to touch
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if not _same_file(fd, path):
            return False
        path.unlink()
        return True
    except OSError:
        return False  # a live writer holds it, or it vanished meanwhile
    finally:
        os.close(fd)


def _same_file(fd: int, path: Path) -> bool:
    """True when `path` still names the file open as `fd`."""
    try:
        named = path.stat(follow_symlinks=False)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)
