"""Placing a cached image where a task wants it (`--out`): a hard link, or a copy.

A hard link costs nothing but shares the cache's read-only inode: a task that must write to its
image asks for a copy. The destination is replaced atomically, never left half-written, and a
failed placement leaves nothing of its own behind (no temporary link or copy beside `out`).

Errors: `PlacementError` (the image stays cached): usage when `out` is a directory or lies under
a file, a cache-class error when the place cannot be written (disk full, permissions).
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from client_fetch.cache.oserrors import describe
from client_fetch.errors import PlacementError

_WRONG_PATH = {errno.EISDIR, errno.ENOTDIR, errno.EEXIST, errno.ENAMETOOLONG, errno.ELOOP}
"""Failures that say the path is wrong (the job's to fix), not that the place is unusable now."""


def place(image: Path, out: Path, *, copy: bool) -> str:
    """Put `image` at `out`; return "hardlink" or "copy"."""
    try:
        return _place(image, out, copy=copy)
    except OSError as exc:
        usage = exc.errno in _WRONG_PATH
        raise PlacementError(str(out), describe(exc), usage=usage) from exc


def _place(image: Path, out: Path, *, copy: bool) -> str:
    if out.is_dir():
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(out))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:  # a component of the parent is a file
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), exc.filename) from exc
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        how = "copy"
        if not copy:
            try:
                os.link(image, tmp)
                how = "hardlink"
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                    raise
        if how == "copy":
            shutil.copyfile(image, tmp)
            os.chmod(tmp, 0o644)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return how
