"""Decoding one DELTA record: an inner zstd frame against a run of OLD blocks as dictionary.

Not responsible for the records around it (the caller checks the run's length against
`records.payload_limit`). Error contract: `DeltaCorrupt` (via the reader, with the patch offset)
for impossible fields (a reference over `records.reference_limit` blocks), an undecodable frame
or bytes after it within its length; OSError from reading OLD.
"""

from __future__ import annotations

import os

import zstandard

from image_format.delta.records import RecordReader, reference_limit

_FRAME_SLACK = 1024


def read_delta_run(
    reader: RecordReader, old_fd: int, block_size: int, old_blocks: int, count: int
) -> bytes:
    """Read the rest of a DELTA record (after its count) and return its `count` blocks."""
    ref_start = reader.read_varint()
    ref_count = reader.read_varint()
    frame_size = reader.read_varint()
    size = count * block_size
    if not 0 < ref_count <= reference_limit(block_size) or ref_start + ref_count > old_blocks:
        raise reader.corrupt(f"a DELTA reference of old blocks {ref_start}+{ref_count}")
    if frame_size > size + size // 128 + _FRAME_SLACK:
        raise reader.corrupt(f"a DELTA frame of {frame_size} bytes for {size} bytes")
    frame = reader.read_exact(frame_size)
    try:
        if zstandard.frame_content_size(frame) != size:
            raise reader.corrupt(f"a DELTA frame that does not hold {size} bytes")
        reference = os.pread(old_fd, ref_count * block_size, ref_start * block_size)
        reference += bytes(ref_count * block_size - len(reference))
        dictionary = zstandard.ZstdCompressionDict(
            reference, dict_type=zstandard.DICT_TYPE_RAWCONTENT
        )
        data = zstandard.ZstdDecompressor(dict_data=dictionary).decompress(
            frame, max_output_size=size, allow_extra_data=False
        )
    except zstandard.ZstdError as exc:
        raise reader.corrupt(f"DELTA frame: {exc}") from exc
    if len(data) != size:
        raise reader.corrupt(f"a DELTA frame gave {len(data)} bytes, expected {size}")
    return data
