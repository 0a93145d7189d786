"""Content-defined, 4 KiB-aligned chunks of images: chunker, index format, codec, assembly.

A chunk is identified by the sha256 of its uncompressed bytes and travels as one zstd frame
(`/v1/chunks/sha256/<id>`). See docs/chunking.md for the format and the measured choice of sizes.
"""

from image_format.chunks.assemble import assemble, verify_chunk
from image_format.chunks.chunker import ChunkSpan, chunk_file, iter_chunks, zero_chunk_id
from image_format.chunks.codec import DEFAULT_LEVEL, compress_chunk, decompress_chunk
from image_format.chunks.errors import ChunkCorrupt, ChunkError, ChunkIndexError, ChunkParamsError
from image_format.chunks.index import ChunkIndex
from image_format.chunks.params import BLOCK_SIZE, DEFAULT_PARAMS, ChunkParams

__all__ = [
    "BLOCK_SIZE",
    "DEFAULT_LEVEL",
    "DEFAULT_PARAMS",
    "ChunkCorrupt",
    "ChunkError",
    "ChunkIndex",
    "ChunkIndexError",
    "ChunkParams",
    "ChunkParamsError",
    "ChunkSpan",
    "assemble",
    "chunk_file",
    "compress_chunk",
    "decompress_chunk",
    "iter_chunks",
    "verify_chunk",
    "zero_chunk_id",
]
