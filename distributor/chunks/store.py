"""Compressed chunks stored by chunk id (sha256 of the uncompressed bytes) under `DATA/chunks/`.

Layout: `sha256/ab/<id>` (`image_format.content_paths.chunk_relpath`), each file one zstd frame.
A chunk shared by versions or images is stored once: `put` of an id already present does nothing.
Writes go to a temp file in the target directory and are renamed into place, so a chunk path
either does not exist or holds a complete frame; durability is the caller's `sync()` after a
batch (one `os.sync` per publish instead of an fsync per chunk).

Not responsible for chunking or compressing (the publish step) nor for HTTP. Error contract:
`put` and `sync` raise `StorageError`; `path` raises `InvalidDigest` for a malformed id and never
checks existence.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from distributor.errors import StorageError
from image_format.content_paths import chunk_relpath


class ChunkStore:
    """Content-addressed compressed chunks below `root`. Safe for concurrent writers."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, chunk_id: str) -> Path:
        return self.root / chunk_relpath(chunk_id)

    def has(self, chunk_id: str) -> bool:
        return self.path(chunk_id).is_file()

    def put(self, chunk_id: str, compressed: bytes) -> bool:
        """Store `compressed` as `chunk_id` unless present; True when it was written now."""
        target = self.path(chunk_id)
        if target.is_file():
            return False
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(prefix=".chunk-", dir=target.parent)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(compressed)
                os.chmod(temp, 0o644)
                os.replace(temp, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
                raise
        except OSError as exc:
            raise StorageError(str(target), f"cannot store a chunk: {exc}") from exc
        return True

    def sync(self) -> None:
        """Make every chunk written so far durable."""
        try:
            os.sync()
        except OSError as exc:  # pragma: no cover - os.sync does not fail on Linux
            raise StorageError(str(self.root), f"cannot sync: {exc}") from exc
