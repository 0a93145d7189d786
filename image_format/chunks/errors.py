"""Typed errors of chunking, chunk indexes and chunk codecs; each carries what it is about."""

from __future__ import annotations

from image_format.errors import ImageFormatError


class ChunkError(ImageFormatError):
    """Base of every error raised by `image_format.chunks`."""


class ChunkIndexError(ChunkError, ValueError):
    """Bytes are not a valid chunk index; `reason` says what is wrong, `offset` where (in the
    index bytes, when known)."""

    def __init__(self, reason: str, offset: int | None = None) -> None:
        where = f" at byte {offset}" if offset is not None else ""
        super().__init__(f"invalid chunk index{where}: {reason}")
        self.reason = reason
        self.offset = offset


class ChunkCorrupt(ChunkError):
    """A chunk's bytes are not what its id says: undecodable, wrong size or wrong sha256.

    Integrity failure: never swallowed, but a fetcher may ask another store for `chunk_id`.
    """

    def __init__(self, chunk_id: str, reason: str) -> None:
        super().__init__(f"chunk {chunk_id} is corrupt: {reason}")
        self.chunk_id = chunk_id
        self.reason = reason


class ChunkParamsError(ChunkError, ValueError):
    """Chunking parameters that cannot work (not block multiples, min > avg > max, ...)."""
