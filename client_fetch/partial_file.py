"""A partial download of one image: appended to in order, hashed while written, resumable.

Kraken's agent storage verifies while writing and moves the finished file into the cache in one
step; this is the first half. Sequential sources (HTTP) append, so the digest is known the moment
the last byte lands. Sources that write out of order (a swarm, a patch) call `mark_unordered`, and
the verifier re-reads the file instead.

Not responsible for deciding whether the bytes are right: only the fetcher's verifier says so.
Errors: OSError from the file system propagates (the fetcher turns it into `CacheError`).
"""

from __future__ import annotations

import os
from pathlib import Path

from client_fetch.background_hasher import BackgroundHasher
from image_format.digest import HASH_BLOCK_BYTES


class PartialFile:
    """The file at `path`; `size` bytes are present; a running sha256 covers them while ordered."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._hasher: BackgroundHasher | None = None
        self.size = 0

    def open_for_append(self, expected_total: int) -> int:
        """Open, hash what is already there (a resumed download) and return the resume offset.

        A file longer than `expected_total` cannot be a prefix of the image: it is truncated to 0.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        present = os.fstat(self._fd).st_size
        if present > expected_total:
            os.ftruncate(self._fd, 0)
            present = 0
        hasher = self._reset_hasher()
        offset = 0
        buffer = bytearray(HASH_BLOCK_BYTES)
        while offset < present:
            count = os.preadv(self._fd, [buffer], offset)
            if count <= 0:
                break
            hasher.update(bytes(buffer[:count]))
            offset += count
        self.size = offset
        os.lseek(self._fd, offset, os.SEEK_SET)
        return offset

    def _reset_hasher(self) -> BackgroundHasher:
        if self._hasher is not None:
            self._hasher.close()
        self._hasher = BackgroundHasher()
        return self._hasher

    def append(self, data: bytes) -> None:
        if self._fd is None:
            raise ValueError(f"{self.path} is not open")
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        if self._hasher is not None:
            self._hasher.update(data)
        self.size += len(data)

    def restart(self) -> None:
        """Drop everything written so far (the server ignored our Range request)."""
        if self._fd is None:
            raise ValueError(f"{self.path} is not open")
        os.ftruncate(self._fd, 0)
        os.lseek(self._fd, 0, os.SEEK_SET)
        self._reset_hasher()
        self.size = 0

    def mark_unordered(self) -> None:
        """Bytes were or will be written out of order: the running hash no longer means anything."""
        if self._hasher is not None:
            self._hasher.close()
        self._hasher = None

    def running_digest(self) -> str | None:
        """The sha256 of the bytes appended, or None if it must be computed from the file."""
        return None if self._hasher is None else self._hasher.hexdigest()

    def close(self) -> None:
        """Close the file; no fsync: the promoter syncs before the rename, and a partial file
        damaged by a power cut fails verification and is fetched again."""
        if self._hasher is not None:
            self._hasher.close()  # the digest stays readable
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> PartialFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
