"""Small crash-safe file-system helpers: atomic writes (optionally kept locked), directory fsync,
stamps, sizes.

These raise OSError as is; callers translate it with `oserrors.cache_errors`.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from client_fetch.cache.layout import TMP_PREFIX

_CREATE_ATTEMPTS = 64


def allocated_bytes(stat: os.stat_result) -> int:
    """Bytes a file occupies on disk (st_blocks are 512-byte units, so sparse holes are free)."""
    return stat.st_blocks * 512


def utc_stamp(now: float | None = None) -> str:
    """A sortable UTC time stamp for file names, e.g. `20240131T120000.123456Z`."""
    seconds = time.time() if now is None else now
    micros = int((seconds % 1) * 1_000_000)
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(seconds)) + f".{micros:06d}Z"


def tmp_path_for(target: Path) -> Path:
    """A fresh temporary name beside `target`, unique across processes."""
    return target.with_name(f"{TMP_PREFIX}{target.name}.{os.getpid()}.{os.urandom(4).hex()}")


def fsync_dir(path: Path) -> None:
    """Make renames and creations in directory `path` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(target: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write `data` to `target` so readers see the old file or the whole new one, never a part.

    Creates the parent directory (again, if a concurrent tidy-up removes it while it is empty). A
    crash leaves at most a `.tmp-*` file that gc removes.
    """
    os.close(_write_and_rename(target, data, mode, hold=False))


def atomic_write_held(target: Path, data: bytes, *, mode: int = 0o644) -> int:
    """`atomic_write_bytes`, but the new file is `flock`ed (shared) before it is renamed into
    place, and its open descriptor is returned: the lock lasts until the caller closes it or the
    process ends, however it ends (the kernel drops it), and there is no moment when the file is
    at `target` unlocked. `holder_gone` tells whether such a lock is still held."""
    return _write_and_rename(target, data, mode, hold=True)


def holder_gone(path: Path) -> bool:
    """True when nobody holds the lock `atomic_write_held` took on `path` (or `path` is gone).

    Probes with a non-blocking exclusive `flock` from a new open file description, so a holder in
    this very process counts as holding it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # drops the probe's lock, if it got one
    return True


def _write_and_rename(target: Path, data: bytes, mode: int, *, hold: bool) -> int:
    fd, tmp = _create_beside(target, mode)
    try:
        if hold:
            fcntl.flock(fd, fcntl.LOCK_SH)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        os.replace(tmp, target)
    except BaseException:
        os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    try:
        fsync_dir(target.parent)
    except FileNotFoundError:
        pass  # another process removed the new file and then its empty directory: nothing to sync
    except BaseException:
        os.close(fd)
        raise
    return fd


def _create_beside(target: Path, mode: int) -> tuple[int, Path]:
    """Create a fresh temporary file beside `target` (its directory made if needed): (fd, path).

    Empty directories are tidied away by other processes (`pins/<digest>/` by unpin and gc,
    `manifests/<name>/` by gc) without a lock, so the directory may vanish between our mkdir and
    our create: then it is made again. Once the temporary file exists the directory is not empty
    and stays. Gives up (FileNotFoundError) after `_CREATE_ATTEMPTS` lost races in a row.
    """
    attempt = 1
    while True:
        tmp = tmp_path_for(target)
        try:
            # FileExistsError despite exist_ok: it existed, then vanished before pathlib's check
            target.parent.mkdir(parents=True, exist_ok=True)
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode), tmp
        except (FileNotFoundError, FileExistsError):
            if attempt >= _CREATE_ATTEMPTS:
                raise
            attempt += 1


def touch(path: Path) -> None:
    """Set `path`'s mtime to now, creating it (and its directory) if needed."""
    try:
        os.utime(path)
        return
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))


def remove_if_exists(path: Path) -> bool:
    """Unlink `path`; False when it was already gone."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def remove_empty_dir(path: Path) -> bool:
    """Remove directory `path` if it is empty (racing writers simply win); True if removed."""
    try:
        path.rmdir()
    except OSError:
        return False
    return True


def list_dir(path: Path) -> list[str]:
    """Entry names of `path`, or [] when it does not exist."""
    try:
        return os.listdir(path)
    except FileNotFoundError:
        return []
