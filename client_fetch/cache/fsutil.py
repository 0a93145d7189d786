"""Small crash-safe file-system helpers: atomic writes, directory fsync, stamps, sizes.

These raise OSError as is; callers translate it with `oserrors.cache_errors`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from client_fetch.cache.layout import TMP_PREFIX


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

    Creates the parent directory. A crash leaves at most a `.tmp-*` file that gc removes.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_path_for(target)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)


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
