"""The single-flight lock: one process at a time works on a given digest, across the whole host."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from client_fetch.cache.layout import CacheLayout
from client_fetch.cache.oserrors import cache_errors
from client_fetch.errors import CacheError

_FIRST_POLL_SECONDS = 0.005
_MAX_POLL_SECONDS = 0.05


class DigestLock:
    """An exclusive `fcntl.flock` on `locks/<digest>.lock`, held by one open file description.

    For: making "download, verify, promote" of a digest happen once per host, and keeping eviction,
    gc and quarantine away from a digest someone is working on. The kernel releases it when the
    holder dies (kill -9 included). Lock files may be unlinked by gc while it holds them; a
    waiter that then wins the old inode notices that the path names another file and starts over.

    Not responsible for: anything done under the lock, or reentrancy (a second DigestLock on the
    same digest in the same process waits like any other process).

    Error contract: `acquire` raises `CacheError` on timeout ("timed out waiting for another
    download of <digest>") or when the lock file cannot be created; `try_acquire` returns False
    when someone else holds it.
    """

    def __init__(self, layout: CacheLayout, digest: str) -> None:
        self._root = layout.root
        self.digest = digest
        self.path: Path = layout.lock(digest)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, timeout_seconds: float) -> None:
        deadline = time.monotonic() + timeout_seconds
        while True:
            fd = self._open()
            if self._wait(fd, deadline) and self._still_named(fd):
                self._fd = fd
                self._note_holder(fd)
                return
            os.close(fd)

    def try_acquire(self) -> bool:
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        if not self._still_named(fd):
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the only descriptor drops the flock

    def unlink_while_held(self) -> None:
        """Remove the lock file (gc); only valid while this object holds the lock."""
        if self._fd is None:
            raise RuntimeError("unlink_while_held() without holding the lock")
        self.path.unlink(missing_ok=True)

    def _open(self) -> int:
        with cache_errors(self._root, f"cannot open lock file {self.path.name}"):
            try:
                return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except FileNotFoundError:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)

    def _wait(self, fd: int, deadline: float) -> bool:
        """Poll for the flock until `deadline`; raise CacheError when it passes."""
        delay = _FIRST_POLL_SECONDS
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    holder = _read_holder(fd)
                    os.close(fd)
                    raise CacheError(
                        str(self._root),
                        f"timed out waiting for another download of {self.digest}{holder}",
                    ) from None
                time.sleep(min(delay, remaining))
                delay = min(delay * 2, _MAX_POLL_SECONDS)

    def _still_named(self, fd: int) -> bool:
        try:
            on_path = os.stat(self.path)
        except FileNotFoundError:
            return False
        mine = os.fstat(fd)
        return (on_path.st_dev, on_path.st_ino) == (mine.st_dev, mine.st_ino)

    @staticmethod
    def _note_holder(fd: int) -> None:
        """Write our pid into the lock file for diagnostics; best effort (a full disk is fine)."""
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass


def _read_holder(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""
    return f" (held by pid {text})" if text.isdigit() else ""
