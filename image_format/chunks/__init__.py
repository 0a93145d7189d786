"""Content-defined, 4 KiB-aligned chunks of images: chunker, index format, codec, assembly.

A chunk is identified by the sha256 of its uncompressed bytes and travels as one zstd frame,
stored in a pack file with other chunks and fetched by HTTP Range (`packs`). See
docs/chunking.md for the formats and the measured choice of sizes.
"""

from image_format.chunks.assemble import assemble, verify_chunk
from image_format.chunks.chunker import ChunkSpan, chunk_file, iter_chunks, zero_chunk_id
from image_format.chunks.codec import DEFAULT_LEVEL, compress_chunk, decompress_chunk
from image_format.chunks.errors import ChunkCorrupt, ChunkError, ChunkIndexError, ChunkParamsError
from image_format.chunks.index import ChunkIndex
from image_format.chunks.packs import ChunkLocation, PackRange, pack_path, plan_ranges
from image_format.chunks.params import BLOCK_SIZE, DEFAULT_PARAMS, ChunkParams

__all__ = [
    "BLOCK_SIZE",
    "DEFAULT_LEVEL",
    "DEFAULT_PARAMS",
    "ChunkCorrupt",
    "ChunkError",
    "ChunkIndex",
    "ChunkIndexError",
    "ChunkLocation",
    "ChunkParams",
    "ChunkParamsError",
    "ChunkSpan",
    "PackRange",
    "assemble",
    "chunk_file",
    "compress_chunk",
    "decompress_chunk",
    "iter_chunks",
    "pack_path",
    "plan_ranges",
    "verify_chunk",
    "zero_chunk_id",
]
