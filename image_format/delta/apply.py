"""Applying a patch: base digest first, then a streamed, sparse rebuild, then the result digest.

Order: read the header; refuse a base whose sha256 differs (`DeltaBaseMismatch`) before creating
any output; decode records in one pass (bounded memory: a few MiB of buffers and the zstd window
of `2**window_log`); write a temp file beside `out_path` with zero runs as holes; compare the
written size and sha256 with the header (`DeltaResultMismatch`); rename over `out_path`.

Not responsible for trusting the header: the caller (the fetcher) checks that the patch is the one
a signed manifest names, and hashes the result again before promoting it. Error contract:
`DeltaCorrupt` (with the patch offset), `DeltaUnsupported`, `DeltaBaseMismatch`,
`DeltaResultMismatch`, OSError from the files; on any error nothing is left at `out_path` and no
temp file remains (an existing file at `out_path` is only replaced on success).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from image_format.delta.errors import DeltaBaseMismatch, DeltaResultMismatch
from image_format.delta.header import HEADER_SIZE, DeltaHeader, read_header
from image_format.delta.output import SparseOutput
from image_format.delta.records import (
    COPY,
    DELTA,
    END,
    LITERAL,
    MAX_PAYLOAD_BLOCKS,
    SAME,
    ZERO,
    RecordReader,
)
from image_format.delta.runs import read_delta_run
from image_format.digest import hash_file

COPY_STEP_BLOCKS = 256


def apply_delta(
    old_path: Path, patch: BinaryIO, out_path: Path, *, expected_old_sha256: str | None = None
) -> DeltaHeader:
    """Rebuild the new image from `old_path` and `patch` (positioned at its start) at `out_path`.

    `expected_old_sha256` is the digest the caller believes `old_path` has: when the patch was
    made from another base this fails at once, without reading `old_path`. Returns the header.
    """
    header = read_header(patch)
    if expected_old_sha256 is not None and expected_old_sha256 != header.old_sha256:
        raise DeltaBaseMismatch(header.old_sha256, expected_old_sha256)
    actual, _size = hash_file(old_path)
    if actual != header.old_sha256:
        raise DeltaBaseMismatch(header.old_sha256, actual)
    output = SparseOutput(out_path, header.new_size)
    try:
        with old_path.open("rb") as old_file:
            _decode(header, RecordReader(patch, HEADER_SIZE), old_file.fileno(), output)
        digest = output.finish()
        if digest != header.new_sha256 or output.position != header.new_size:
            raise DeltaResultMismatch(header.new_sha256, digest, header.new_size, output.position)
        output.commit()
    except BaseException:
        output.discard()
        raise
    return header


def _decode(header: DeltaHeader, reader: RecordReader, old_fd: int, output: SparseOutput) -> None:
    bs = header.block_size
    new_blocks = -(-header.new_size // bs)
    old_blocks = -(-header.old_size // bs)
    number = 0
    while True:
        op = reader.read_op()
        src = reader.read_varint() if op == COPY else 0
        count = reader.read_varint()
        if op == END:
            if count != new_blocks or number != new_blocks:
                raise reader.corrupt(f"END after {number} blocks, the header says {new_blocks}")
            reader.finish()
            return
        if count == 0 or number + count > new_blocks:
            raise reader.corrupt(f"a run of {count} blocks at block {number} overflows the image")
        if op == COPY and src + count > old_blocks:
            raise reader.corrupt(f"a run reads old blocks {src}+{count} of {old_blocks}")
        if op in (LITERAL, DELTA) and count > MAX_PAYLOAD_BLOCKS:
            raise reader.corrupt(f"a payload run of {count} blocks exceeds the limit")
        if op == ZERO:
            output.skip(count * bs)
        elif op in (SAME, COPY):
            first = number if op == SAME else src
            for step in range(0, count, COPY_STEP_BLOCKS):
                blocks = min(COPY_STEP_BLOCKS, count - step)
                output.write(_read_old(old_fd, (first + step) * bs, blocks * bs))
        elif op == LITERAL:
            output.write(reader.read_exact(count * bs))
        else:
            output.write(read_delta_run(reader, old_fd, bs, old_blocks, count))
        number += count


def _read_old(fd: int, offset: int, size: int) -> bytes:
    """`size` bytes of OLD from `offset`, zero-padded past its end."""
    data = os.pread(fd, size, offset)
    while len(data) < size:
        more = os.pread(fd, size - len(data), offset + len(data))
        if not more:
            return data + bytes(size - len(data))
        data += more
    return data
