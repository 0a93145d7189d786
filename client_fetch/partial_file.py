"""A partial download of one image: appended to in order, hashed while written, resumable.

Kraken's agent storage verifies while writing and moves the finished file into the cache in one
step; this is the first half. Sequential sources (HTTP) append, so the digest is known the moment
the last byte lands. Sources that write out of order (a swarm, a patch) call `mark_unordered`, and
the verifier re-reads the file instead, unless the source checked what it wrote against hashes the
signed manifest vouches for (`record_checked_digest`: a swarm's pieces, a delta apply's output).

Not responsible for deciding whether the bytes are right: only the fetcher's verifier says so.
Errors: OSError from the file system propagates (the fetcher turns it into `CacheError`).
"""

from __future__ import annotations

import os
from pathlib import Path

from client_fetch.background_hasher import BackgroundHasher
from client_fetch.background_writer import BackgroundWriter
from image_format.digest import HASH_BLOCK_BYTES

_ZEROS = bytes(1 << 20)


class PartialFile:
    """The file at `path`; `size` bytes are present; a running sha256 covers them while ordered."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._hasher: BackgroundHasher | None = None
        self._writer: BackgroundWriter | None = None
        self._checked_digest: str | None = None
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
        self._writer = BackgroundWriter(self._fd, offset)
        return offset

    def open_unordered(self, expected_total: int) -> int:
        """Open for a source that writes the file itself, out of order (a swarm engine).

        No running hash and no prefix read: the verifier re-reads the finished file. Returns the
        bytes present (pieces of an earlier run may be anywhere in them).
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        present = os.fstat(self._fd).st_size
        if present > expected_total:
            os.ftruncate(self._fd, 0)
            present = 0
        self._hasher = None
        self._checked_digest = None
        self.size = present
        return present

    def _reset_hasher(self) -> BackgroundHasher:
        self._checked_digest = None
        if self._hasher is not None:
            self._hasher.close()
        self._hasher = BackgroundHasher()
        return self._hasher

    def append(self, data: bytes) -> None:
        """Queue `data` for writing and hashing; a write error surfaces here or at close."""
        if self._writer is None:
            raise ValueError(f"{self.path} is not open for appending")
        self._writer.write(data)
        if self._hasher is not None:
            self._hasher.update(data)
        self.size += len(data)

    def append_hole(self, count: int) -> None:
        """Append `count` zero bytes as a hole: hashed, never written (the file stays sparse)."""
        if self._writer is None:
            raise ValueError(f"{self.path} is not open for appending")
        self._writer.skip(count)
        if self._hasher is not None:
            remaining = count
            while remaining:
                piece = min(remaining, len(_ZEROS))
                self._hasher.update(_ZEROS if piece == len(_ZEROS) else bytes(piece))
                remaining -= piece
        self.size += count

    def restart(self) -> None:
        """Drop everything written so far (the server ignored our Range request)."""
        if self._fd is None or self._writer is None:
            raise ValueError(f"{self.path} is not open for appending")
        self._writer.flush()
        os.ftruncate(self._fd, 0)
        self._writer = BackgroundWriter(self._fd, 0)
        self._reset_hasher()
        self.size = 0

    def mark_unordered(self) -> None:
        """Bytes were or will be written out of order: the running hash no longer means anything."""
        self._checked_digest = None
        if self._hasher is not None:
            self._hasher.close()
        self._hasher = None

    def record_checked_digest(self, digest: str) -> None:
        """The source checked every byte of the file while writing it against hashes that stand
        for `digest` (a v2 torrent's SHA-256 piece hashes, the torrent named by the signed
        manifest; or a delta apply's sha256 of all it wrote), so the verifier need not hash the
        whole file again."""
        self._checked_digest = digest

    def running_digest(self) -> str | None:
        """The sha256 of the bytes appended (or recorded by a source that checked every piece),
        or None if it must be computed from the file."""
        if self._hasher is None:
            return self._checked_digest
        return self._hasher.hexdigest()

    def close(self) -> None:
        """Close the file; no fsync: the promoter syncs before the rename, and a partial file
        damaged by a power cut fails verification and is fetched again."""
        try:
            if self._writer is not None:
                self._writer.flush()
        finally:
            self._writer = None
            if self._hasher is not None:
                self._hasher.close()  # the digest stays readable
            self._close_fd()

    def _close_fd(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> PartialFile:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
