"""Making a patch: two streamed passes, bounded memory, whatever the image sizes.

Pass 1 reads OLD once: its sha256 and a `BlockIndex` of its non-zero blocks (NEW's sha256, when
the caller does not know it, is computed on a second thread meanwhile). Pass 2 reads NEW once, in
step with OLD at the same offsets (an all-zero or unchanged MiB is one run), and hands each block
to `diff.Differ`, which picks ZERO / SAME / COPY / DELTA / LITERAL. Records go into sections
(zstd); LITERAL bytes into each section's lane, one zstd frame (window `2**window_log`,
long-distance matching) compressed on its own worker thread, at most `threads` lanes at once.
Memory: the index (see `index`), `threads` zstd encoders (window plus match tables, about 100 MiB
each at level 17), their queued input and compressed output (up to a section's lane each), one
section's records, and one DELTA run with its reference (at most 1 + 4 MiB).

Not responsible for deciding whether a patch is worth offering (the publisher does). Error
contract: ValueError for a block size or window log no patch may have (checked before anything is
read or written); OSError from reading inputs or writing `out` passes through;
`DeltaInputChanged` when a digest the caller gave does not match what was read (the patch written
so far is then useless).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from image_format.delta.diff import Differ, OldBlocks
from image_format.delta.errors import DeltaInputChanged
from image_format.delta.header import (
    MAX_BLOCK_SIZE,
    MIN_BLOCK_SIZE,
    DeltaHeader,
    block_size_supported,
)
from image_format.delta.index import BlockIndex, block_hash
from image_format.delta.lanes import MAX_DICT_LOG, MIN_DICT_LOG, lane_parameters
from image_format.delta.records import OP_NAMES, RecordWriter
from image_format.delta.sections import ByteSink, CountingWriter, SectionWriter
from image_format.digest import hash_file

DEFAULT_BLOCK_SIZE = 4096
DEFAULT_LEVEL = 12
DEFAULT_LITERAL_LEVEL = 17
DEFAULT_WINDOW_LOG = 25
DEFAULT_THREADS = 2
READ_BYTES = MAX_BLOCK_SIZE  # a whole number of blocks of every supported block size


@dataclass(frozen=True)
class DeltaStats:
    """What `make_delta` wrote: the header, patch bytes, new blocks per operation, seconds,
    indexed OLD blocks and body sections."""

    header: DeltaHeader
    patch_bytes: int
    blocks: dict[str, int]
    seconds: float
    indexed_blocks: int
    sections: int

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
    literal_level: int = DEFAULT_LITERAL_LEVEL,
    window_log: int = DEFAULT_WINDOW_LOG,
    threads: int = DEFAULT_THREADS,
    old_sha256: str | None = None,
    new_sha256: str | None = None,
) -> DeltaStats:
    """Write a patch turning `old_path` into `new_path` to `out` (written sequentially).

    `old_sha256`/`new_sha256`, when the caller knows them, save a pass over NEW (the header
    needs its digest before the body); both are still checked against what is read.
    `block_size` is a power of two from 512 to 1 MiB (each 1 MiB read is a whole number of
    blocks); `level` (1-22) is the zstd level of records and DELTA frames, `literal_level`
    (1-22) the lanes'; `window_log` is the lanes' window log (12-26); `threads` lanes compress
    at once. ValueError for a `block_size` or `window_log` out of range.
    """
    if not block_size_supported(block_size):
        raise ValueError(
            f"block_size {block_size} is not a power of two from {MIN_BLOCK_SIZE} "
            f"to {MAX_BLOCK_SIZE}"
        )
    if not MIN_DICT_LOG <= window_log <= MAX_DICT_LOG:
        raise ValueError(f"window_log {window_log} is outside {MIN_DICT_LOG}..{MAX_DICT_LOG}")
    started = time.monotonic()
    old_size, new_size = old_path.stat().st_size, new_path.stat().st_size
    index = BlockIndex(-(-old_size // block_size))
    new_hash = _Background(hash_file, new_path) if new_sha256 is None else None
    old_digest = _index_old(old_path, block_size, index)
    new_digest = new_sha256 or (new_hash.result() if new_hash is not None else "")
    if old_sha256 is not None and old_sha256 != old_digest:
        raise DeltaInputChanged("old", old_sha256, old_digest)
    header = DeltaHeader(block_size, old_size, old_digest, new_size, new_digest, window_log)
    sink = CountingWriter(out)
    sink.write(header.pack())
    sections = SectionWriter(sink, level, lane_parameters(literal_level, window_log), threads)
    writer = RecordWriter(sections)
    try:
        read_digest = _diff_new(old_path, new_path, header, index, writer, level)
        if read_digest != new_digest:
            raise DeltaInputChanged("new", new_digest, read_digest)
        writer.finish(-(-new_size // block_size))
        patch_bytes = sections.finish()
    except BaseException:
        sections.abandon()
        raise
    blocks = dict(zip(OP_NAMES[1:], writer.blocks_by_op[1:], strict=True))
    seconds = time.monotonic() - started
    return DeltaStats(header, patch_bytes, blocks, seconds, index.entries, sections.sections)


class _Background:
    """`hash_file(path)` on a worker thread (hashlib releases the GIL): NEW's digest while
    OLD is indexed."""

    def __init__(self, function: Callable[[Path], tuple[str, int]], path: Path) -> None:
        self._result: tuple[str, int] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(function, path), daemon=True)
        self._thread.start()

    def _run(self, function: Callable[[Path], tuple[str, int]], path: Path) -> None:
        try:
            self._result = function(path)
        except BaseException as exc:  # re-raised by result()
            self._error = exc

    def result(self) -> str:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result[0]


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
