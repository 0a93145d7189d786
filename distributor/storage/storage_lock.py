"""The data directory's storage lock: publishes share it, a storage collection holds it alone.

A publish commits its blob, lets its steps store torrents, packs and patches (reusing stored
chunks and torrents it finds), and records its version; a collection (`distributor gc`) decides
what no version needs and removes it. Were they to overlap, a publish could reuse a pack or a
blob the collection is removing and record a version that names it. So every publish holds
`DATA/storage.lock` shared (`flock`, any number at once, across processes: uvicorn workers, CLI
publishes) from its blob's commit until its version is recorded, and a collection holds it
exclusively for its whole run. The kernel drops a lock when its holder exits, kill -9 included.

Not responsible for staging files (`distributor.storage.staging` has its own per-file locks) nor
for what a collection removes. Error contract: `StorageError` when the lock file cannot be
opened or locked; `StorageBusy` when the exclusive lock is not free within the wait given.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from distributor.errors import StorageError

LOCK_NAME = "storage.lock"
POLL_SECONDS = 0.05


class StorageBusy(StorageError):
    """Publishes (or another collection) kept the storage lock for longer than a collection
    would wait."""

    code = "storage_busy"


class StorageLock:
    """`DATA/storage.lock` (made on first use)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_NAME

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        """Held by a publish; waits while a collection runs."""
        fd = self._open()
        try:
            _flock(fd, fcntl.LOCK_SH, self.path)
            yield
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def exclusive(self, wait_seconds: float) -> Iterator[None]:
        """Held by a collection; `StorageBusy` when publishes hold the lock for `wait_seconds`."""
        fd = self._open()
        try:
            deadline = time.monotonic() + wait_seconds
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise StorageBusy(
                            str(self.path),
                            f"publishes (or another gc) kept it locked for {wait_seconds:g} s",
                        ) from None
                    time.sleep(POLL_SECONDS)
                except OSError as exc:
                    raise StorageError(str(self.path), f"cannot lock: {exc}") from exc
            yield
        finally:
            os.close(fd)

    def _open(self) -> int:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, os.O_RDONLY | os.O_CREAT, 0o644)  # flock needs no write
        except OSError as exc:
            raise StorageError(str(self.path), f"cannot open the storage lock: {exc}") from exc


def _flock(fd: int, operation: int, path: Path) -> None:
    try:
        fcntl.flock(fd, operation)
    except OSError as exc:
        raise StorageError(str(path), f"cannot lock: {exc}") from exc
