"""Making a patch: two streamed passes, bounded memory, whatever the image sizes.

Pass 1 reads OLD once: its sha256 and a `BlockIndex` of its non-zero blocks. Pass 2 reads NEW
once, in step with OLD at the same offsets (an all-zero or unchanged MiB is one run), and hands
each block to `diff.Differ`, which picks ZERO / SAME / COPY / DELTA / LITERAL. Records and
LITERAL payloads go through one streaming zstd compressor (long-distance matching, window
`2**window_log`). Memory: the index (see `index`), the compressor's window and tables, a few MiB
of buffers and one DELTA run with its reference (at most 1 + 4 MiB).

Not responsible for deciding whether a patch is worth offering (the publisher does). Error
contract: OSError from reading inputs or writing `out` passes through; `DeltaInputChanged` when a
digest the caller gave does not match what was read (the patch written so far is then useless).
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import zstandard

from image_format.delta.diff import Differ, OldBlocks
from image_format.delta.errors import DeltaInputChanged
from image_format.delta.header import DeltaHeader
from image_format.delta.index import BlockIndex, block_hash
from image_format.delta.records import OP_NAMES, ByteSink, CountingWriter, RecordWriter
from image_format.digest import hash_file

DEFAULT_BLOCK_SIZE = 4096
DEFAULT_LEVEL = 12
DEFAULT_WINDOW_LOG = 27
DEFAULT_THREADS = 0
READ_BYTES = 1 << 20


@dataclass(frozen=True)
class DeltaStats:
    """What `make_delta` wrote: the header, patch bytes, new blocks per operation, seconds."""

    header: DeltaHeader
    patch_bytes: int
    blocks: dict[str, int]
    seconds: float
    indexed_blocks: int

    @property
    def bytes_by_op(self) -> dict[str, int]:
        """Bytes of the new image each operation covered (blocks times block size)."""
        return {op: count * self.header.block_size for op, count in self.blocks.items()}


def make_delta(
    old_path: Path,
    new_path: Path,
    out: ByteSink,
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
    level: int = DEFAULT_LEVEL,
    window_log: int = DEFAULT_WINDOW_LOG,
    threads: int = DEFAULT_THREADS,
    old_sha256: str | None = None,
    new_sha256: str | None = None,
) -> DeltaStats:
    """Write a patch turning `old_path` into `new_path` to `out` (written sequentially).

    `old_sha256`/`new_sha256`, when the caller knows them, save a pass over NEW (the header
    needs its digest before the body); both are still checked against what is read.
    """
    started = time.monotonic()
    old_size, new_size = old_path.stat().st_size, new_path.stat().st_size
    index = BlockIndex(-(-old_size // block_size))
    old_digest = _index_old(old_path, block_size, index)
    if old_sha256 is not None and old_sha256 != old_digest:
        raise DeltaInputChanged("old", old_sha256, old_digest)
    new_digest = new_sha256 or hash_file(new_path)[0]
    header = DeltaHeader(block_size, old_size, old_digest, new_size, new_digest, window_log)
    sink = CountingWriter(out)
    sink.write(header.pack())
    params = zstandard.ZstdCompressionParameters.from_level(
        level, window_log=window_log, enable_ldm=True, write_checksum=True, threads=threads
    )
    writer = RecordWriter(sink, params)
    read_digest = _diff_new(old_path, new_path, header, index, writer, level)
    if read_digest != new_digest:
        raise DeltaInputChanged("new", new_digest, read_digest)
    writer.finish(-(-new_size // block_size))
    blocks = dict(zip(OP_NAMES[1:], writer.blocks_by_op[1:], strict=True))
    return DeltaStats(header, sink.count, blocks, time.monotonic() - started, index.entries)


def _index_old(path: Path, block_size: int, index: BlockIndex) -> str:
    hasher = hashlib.sha256()
    zero_chunk = bytes(READ_BYTES)
    number = 0
    with path.open("rb") as handle:
        while chunk := handle.read(READ_BYTES):
            hasher.update(chunk)
            if chunk == zero_chunk:
                number += READ_BYTES // block_size
                continue
            chunk = _pad(chunk, block_size)
            zero = bytes(block_size)
            for start in range(0, len(chunk), block_size):
                block = chunk[start : start + block_size]
                if block != zero:
                    index.add(block_hash(block), number)
                number += 1
    return hasher.hexdigest()


def _pad(chunk: bytes, block_size: int) -> bytes:
    extra = -len(chunk) % block_size
    return chunk + bytes(extra) if extra else chunk


def _diff_new(
    old_path: Path,
    new_path: Path,
    header: DeltaHeader,
    index: BlockIndex,
    writer: RecordWriter,
    level: int,
) -> str:
    bs = header.block_size
    hasher = hashlib.sha256()
    zero_chunk, zero = bytes(READ_BYTES), bytes(bs)
    with old_path.open("rb") as old_file, new_path.open("rb") as new_file:
        old = OldBlocks(old_file.fileno(), header.old_size, bs)
        differ = Differ(old, index, writer, level)
        number = 0
        while chunk := new_file.read(READ_BYTES):
            hasher.update(chunk)
            if chunk == zero_chunk:
                differ.zero(READ_BYTES // bs)
                number += READ_BYTES // bs
                continue
            old_chunk = os.pread(old.fd, len(chunk), number * bs)
            if chunk == old_chunk:
                differ.same(number, -(-len(chunk) // bs))
                number += -(-len(chunk) // bs)
                continue
            chunk, old_chunk = _pad(chunk, bs), _pad(old_chunk, bs)
            for start in range(0, len(chunk), bs):
                block = chunk[start : start + bs]
                if block == zero:
                    differ.zero(1)
                elif number < old.blocks and block == old_chunk[start : start + bs]:
                    differ.same(number, 1)
                else:
                    differ.other(block, number)
                number += 1
        differ.flush()
    return hasher.hexdigest()
