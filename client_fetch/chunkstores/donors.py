"""Chunks read from images already in the host cache ("donors"; casync calls them seeds).

Built for one target index: only chunk ids the target needs are kept, so memory is bounded by the
target's chunk count, not by the whole cache. Every read is verified; a donor whose bytes do not
match (a damaged cached file) is reported as missing, so the next store is asked.
Errors: `ChunkMissing` only.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from client_fetch.chunkstores.base import ChunkMissing
from image_format.chunks import ChunkIndex


class DonorStore:
    """Maps chunk id → (donor file, offset) for the chunks a target needs."""

    def __init__(self) -> None:
        self._where: dict[str, tuple[Path, int, int]] = {}
        self.bytes_read = 0

    @classmethod
    def for_target(
        cls, target: ChunkIndex, donors: Iterable[tuple[Path, ChunkIndex]]
    ) -> DonorStore:
        store = cls()
        needed = {span.chunk_id for span in target.spans if not span.is_zero}
        for path, index in donors:
            for span in index.spans:
                if span.chunk_id in needed and span.chunk_id not in store._where:
                    store._where[span.chunk_id] = (path, span.offset, span.size)
        return store

    @property
    def name(self) -> str:
        return "donors"

    def covered_bytes(self, target: ChunkIndex) -> int:
        return sum(s.size for s in target.spans if not s.is_zero and s.chunk_id in self._where)

    def has(self, chunk_id: str) -> bool:
        return chunk_id in self._where

    def get(self, chunk_id: str, size: int) -> bytes:
        where = self._where.get(chunk_id)
        if where is None:
            raise ChunkMissing(chunk_id, "no cached image holds it")
        path, offset, length = where
        try:
            fd = os.open(path, os.O_RDONLY)
            try:
                data = os.pread(fd, length, offset)
            finally:
                os.close(fd)
        except OSError as exc:
            raise ChunkMissing(chunk_id, f"donor {path} unreadable: {exc}") from exc
        if len(data) != size or hashlib.sha256(data).hexdigest() != chunk_id:
            raise ChunkMissing(chunk_id, f"donor {path} does not hold it (damaged?)")
        self.bytes_read += len(data)
        return data
