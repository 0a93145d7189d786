"""A chunk on the wire and on disk: one zstd frame of the uncompressed bytes, content size in the
frame header, no zstd checksum (the sha256 chunk id is the check).

Not responsible for where chunks come from. Error contract: `decompress_chunk` raises
`ChunkCorrupt(chunk_id)` for anything but exactly one frame that decodes to `expected_size`
bytes hashing to `expected_id`; it never allocates more than the frame header's declared size,
which must equal `expected_size`.
"""

from __future__ import annotations

import hashlib

import zstandard

from image_format.chunks.errors import ChunkCorrupt

DEFAULT_LEVEL = 6


def compress_chunk(data: bytes, level: int = DEFAULT_LEVEL) -> bytes:
    """One zstd frame of `data` (content size in the header)."""
    compressor = zstandard.ZstdCompressor(level=level, write_content_size=True)
    return compressor.compress(data)


def decompress_chunk(data: bytes, expected_id: str, expected_size: int) -> bytes:
    """Decode one compressed chunk and check it is `expected_id` (`ChunkCorrupt` otherwise)."""
    try:
        declared = zstandard.frame_content_size(data)
    except zstandard.ZstdError as exc:
        raise ChunkCorrupt(expected_id, f"not a zstd frame: {exc}") from exc
    if declared != expected_size:
        raise ChunkCorrupt(
            expected_id, f"frame declares {declared} bytes, the index says {expected_size}"
        )
    decoder = zstandard.ZstdDecompressor().decompressobj()
    try:
        out = decoder.decompress(data)
    except zstandard.ZstdError as exc:
        raise ChunkCorrupt(expected_id, f"cannot decompress: {exc}") from exc
    if not decoder.eof:
        raise ChunkCorrupt(expected_id, "truncated zstd frame")
    if decoder.unused_data:
        raise ChunkCorrupt(expected_id, f"{len(decoder.unused_data)} bytes after the frame")
    if len(out) != expected_size:
        raise ChunkCorrupt(expected_id, f"decoded {len(out)} bytes, expected {expected_size}")
    actual = hashlib.sha256(out).hexdigest()
    if actual != expected_id:
        raise ChunkCorrupt(expected_id, f"sha256 of the decoded bytes is {actual}")
    return out
