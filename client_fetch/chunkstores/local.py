"""Chunks in a local directory (`<root>/sha256/ab/<id>`), uncompressed, verified on every read.

A file whose bytes do not hash to its id is removed and reported as missing: a bad local copy
only costs a refetch. Writes are atomic (temp file + rename). Errors: `ChunkMissing`; OSError on
writing propagates (disk full is the caller's to report).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

from client_fetch.chunkstores.base import ChunkMissing
from image_format.content_paths import chunk_relpath


class LocalChunkStore:
    """A directory of chunks; `put` is for caching wrappers."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def name(self) -> str:
        return f"local:{self.root}"

    def _path(self, chunk_id: str) -> Path:
        return self.root / chunk_relpath(chunk_id)

    def get(self, chunk_id: str, size: int) -> bytes:
        path = self._path(chunk_id)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ChunkMissing(chunk_id, f"not in {self.root}") from exc
        if len(data) != size or hashlib.sha256(data).hexdigest() != chunk_id:
            with contextlib.suppress(OSError):
                path.unlink()
            raise ChunkMissing(chunk_id, f"the copy in {self.root} was corrupt and is removed")
        return data

    def has(self, chunk_id: str) -> bool:
        return self._path(chunk_id).is_file()

    def put(self, chunk_id: str, data: bytes) -> None:
        path = self._path(chunk_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        tmp.write_bytes(data)
        os.replace(tmp, path)
