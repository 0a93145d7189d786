"""Translation of operating-system errors into `CacheError` at the cache boundary."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from client_fetch.errors import CacheError

_DISK_FULL = {errno.ENOSPC, errno.EDQUOT}
_DENIED = {errno.EACCES, errno.EPERM, errno.EROFS}


def describe(exc: OSError) -> str:
    """A short reason for `exc`; disk-full conditions always say "disk full"."""
    where = f" ({exc.filename})" if exc.filename else ""
    if exc.errno in _DISK_FULL:
        return f"disk full: {exc.strerror}{where}"
    if exc.errno in _DENIED:
        return f"permission denied: {exc.strerror}{where}"
    return f"{exc.strerror or exc}{where}"


@contextmanager
def cache_errors(root: Path, action: str) -> Iterator[None]:
    """Re-raise any OSError inside the block as `CacheError(root, "<action>: <reason>")`."""
    try:
        yield
    except OSError as exc:
        raise CacheError(str(root), f"{action}: {describe(exc)}") from exc
