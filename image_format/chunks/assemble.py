"""Write an image from its chunk index and a source of chunk bytes; zero chunks become holes.

Not responsible for where chunks come from (the caller's `get_chunk`: donors, stores, HTTP) nor
for the whole-image digest (the fetcher's one verifier checks the finished file). Error contract:
`ChunkCorrupt(chunk_id)` when `get_chunk` returns bytes of the wrong size or sha256 (the file is
left partly written; the caller discards or retries it); whatever `get_chunk` raises propagates;
`OSError` from writing propagates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from image_format.chunks.chunker import ChunkSpan
from image_format.chunks.errors import ChunkCorrupt
from image_format.chunks.index import ChunkIndex


def verify_chunk(span: ChunkSpan, data: bytes) -> None:
    """Raise `ChunkCorrupt` unless `data` is the uncompressed content of `span`."""
    if len(data) != span.size:
        raise ChunkCorrupt(span.chunk_id, f"got {len(data)} bytes, expected {span.size}")
    actual = hashlib.sha256(data).hexdigest()
    if actual != span.chunk_id:
        raise ChunkCorrupt(span.chunk_id, f"sha256 of the bytes is {actual}")


def assemble(index: ChunkIndex, get_chunk: Callable[[ChunkSpan], bytes], out_path: Path) -> int:
    """Write `out_path` (created or truncated) from `index`: each data chunk from
    `get_chunk(span)` (uncompressed bytes, verified here), each zero chunk as a hole. Returns the
    number of bytes written (zero chunks excluded)."""
    written = 0
    with out_path.open("wb") as handle:
        for span in index.spans:
            if span.is_zero:
                continue
            data = get_chunk(span)
            verify_chunk(span, data)
            handle.seek(span.offset)
            handle.write(data)
            written += len(data)
        handle.truncate(index.size)
    return written
