"""Placing a cached image where a task wants it (`--out`): a hard link, or a copy.

A hard link costs nothing but shares the cache's read-only inode: a task that must write to its
image asks for a copy. The destination is replaced atomically, never left half-written.
Errors: OSError propagates (the CLI reports it as a cache/placement error).
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path


def place(image: Path, out: Path, *, copy: bool) -> str:
    """Put `image` at `out`; return "hardlink" or "copy"."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    how = "copy"
    if not copy:
        try:
            os.link(image, tmp)
            how = "hardlink"
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                raise
    if how == "copy":
        try:
            shutil.copyfile(image, tmp)
            os.chmod(tmp, 0o644)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    os.replace(tmp, out)
    return how
