"""The `ChunkStore` protocol and its error rule.

Error contract, for every store and every composite:
- `ChunkMissing`: this store does not have the chunk. Routers try the next store.
- `ChunkUnavailable`: the store could not answer now (network, 5xx, stall). Mirror groups try the
  next mirror; routers stop (a real error is not "missing").
- `ChunkCorrupt` (from image_format): bytes did not hash to the id. Mirror groups try the next
  mirror; a caching wrapper treats a corrupt local copy as missing. Never swallowed otherwise.
"""

from __future__ import annotations

from typing import Protocol


class ChunkStoreError(Exception):
    """Base of the chunk stores' own errors; `chunk_id` says which chunk."""

    def __init__(self, chunk_id: str, reason: str) -> None:
        super().__init__(f"chunk {chunk_id}: {reason}")
        self.chunk_id = chunk_id
        self.reason = reason


class ChunkMissing(ChunkStoreError):
    """The store does not hold this chunk."""


class ChunkUnavailable(ChunkStoreError):
    """The store could not be asked (network error, server error, stall)."""


class ChunkStore(Protocol):
    """One place chunks can come from; `name` appears in reports and errors."""

    @property
    def name(self) -> str: ...

    def get(self, chunk_id: str, size: int) -> bytes:
        """The chunk's verified uncompressed bytes (`size` of them)."""
        ...

    def has(self, chunk_id: str) -> bool:
        """Cheap presence check; may be optimistic for remote stores."""
        ...
