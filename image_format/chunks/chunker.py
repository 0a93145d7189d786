"""Content-defined chunking with cut points on the 4 KiB block grid, streamed.

How a cut is chosen: the file is read in 4 KiB blocks; each block's CRC-32 is its hash. Past
`min_size` bytes of the current chunk, a cut falls after a block whose hash has its low bits
zero (more bits below `avg_size`, fewer above: normalized chunking); at `max_size` a cut is
forced. The decision depends only on the blocks themselves and the distance from the last cut,
so after an inserted, removed or moved run of whole blocks the cuts fall in the same places again
(the content-defined property). A shift by a non-multiple of 4 KiB is not survived: no cut grid
can be both 4 KiB-aligned and shift-invariant; file systems move whole blocks.

Zero runs: a run of at least `zero_min_size` zero bytes ends the data chunk before it and becomes
zero chunks (at most `max_size` each) flagged `is_zero`, which a fetcher writes as holes. All-zero
blocks are never cut candidates otherwise.

Not responsible for storing or compressing chunks. Error contract: `OSError` from reading
propagates; memory stays bounded by `max_size` plus one read buffer.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

from image_format.chunks.params import BLOCK_SIZE, DEFAULT_PARAMS, ChunkParams

READ_BYTES = 4 << 20
_ZERO_BLOCK = bytes(BLOCK_SIZE)


@lru_cache(maxsize=512)
def zero_chunk_id(size: int) -> str:
    """The chunk id (sha256 hex) of `size` zero bytes."""
    return hashlib.sha256(bytes(size)).hexdigest()


@dataclass(frozen=True, slots=True)
class ChunkSpan:
    """One chunk of a file: `size` bytes at `offset`, content-addressed by `chunk_id` (sha256 hex
    of the uncompressed bytes). `is_zero` chunks are all zero bytes: nothing to fetch."""

    offset: int
    size: int
    chunk_id: str
    is_zero: bool = False

    @property
    def end(self) -> int:
        return self.offset + self.size


class _Cutter:
    """The chunking state machine over a stream of blocks; `pending` collects finished chunks."""

    def __init__(self, params: ChunkParams) -> None:
        self.p = params
        self.mask_before = params.mask_before_avg
        self.mask_after = params.mask_after_avg
        self.pending: list[tuple[ChunkSpan, bytes]] = []
        self.offset = 0  # file offset of the current data chunk
        self.parts: list[bytes | memoryview] = []
        self.size = 0  # bytes in the current data chunk
        self.zeros = 0  # zero bytes seen after the current data chunk, not yet placed

    def cut(self) -> None:
        if self.size:
            data = b"".join(self.parts)
            span = ChunkSpan(self.offset, self.size, hashlib.sha256(data).hexdigest())
            self.pending.append((span, data))
            self.offset += self.size
            self.parts = []
            self.size = 0

    def place_zeros(self) -> None:
        """Decide the pending zero run: its own zero chunks, or part of the data chunk."""
        zeros, self.zeros = self.zeros, 0
        if zeros >= self.p.zero_min_size:
            self.cut()
            while zeros:
                size = min(zeros, self.p.max_size)
                span = ChunkSpan(self.offset, size, zero_chunk_id(size), is_zero=True)
                self.pending.append((span, b""))
                self.offset += size
                zeros -= size
            return
        while zeros:
            take = min(zeros, self.p.max_size - self.size)
            self.parts.append(bytes(take))
            self.size += take
            zeros -= take
            if self.size >= self.p.max_size:
                self.cut()

    def feed(self, data: bytes) -> None:
        """Take the next bytes of the file (block multiples except at the end)."""
        crc32, zero_block = zlib.crc32, _ZERO_BLOCK
        min_size, avg_size, max_size = self.p.min_size, self.p.avg_size, self.p.max_size
        mask_before, mask_after = self.mask_before, self.mask_after
        view = memoryview(data)
        length = len(view)
        start = 0  # start in `view` of the blocks not yet added to `parts`
        size = self.size
        for pos in range(0, length, BLOCK_SIZE):
            if data.startswith(zero_block, pos):
                if pos > start:
                    self.parts.append(view[start:pos])
                    self.size = size
                self.zeros += BLOCK_SIZE
                start = pos + BLOCK_SIZE
                continue
            block = view[pos : pos + BLOCK_SIZE]
            h = crc32(block)
            if self.zeros:
                if pos > start:
                    self.parts.append(view[start:pos])
                self.size = size
                self.place_zeros()
                size = self.size
                start = pos
            size += len(block)
            mask = mask_before if size < avg_size else mask_after
            if (size >= min_size and not h & mask) or size >= max_size:
                self.parts.append(view[start : pos + len(block)])
                self.size = size
                self.cut()
                size = 0
                start = pos + BLOCK_SIZE
        if start < length:
            self.parts.append(view[start:length])
        self.size = size

    def finish(self) -> None:
        self.place_zeros()
        self.cut()


def iter_chunks(
    handle: BinaryIO, params: ChunkParams = DEFAULT_PARAMS
) -> Iterator[tuple[ChunkSpan, bytes]]:
    """Chunk a binary stream from its current position; yield each span with its bytes (empty
    bytes for zero chunks). Offsets count from where the stream was."""
    cutter = _Cutter(params)
    while True:
        data = _read_full(handle, READ_BYTES)
        if data:
            cutter.feed(data)
        else:
            cutter.finish()
        yield from cutter.pending
        cutter.pending.clear()
        if not data:
            return


def _read_full(handle: BinaryIO, count: int) -> bytes:
    """Read `count` bytes unless the stream ends first (so only the last read is short)."""
    data = handle.read(count)
    if len(data) in (0, count):
        return data
    parts = [data]
    got = len(data)
    while got < count:
        more = handle.read(count - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def chunk_file(path: Path, params: ChunkParams = DEFAULT_PARAMS) -> Iterator[ChunkSpan]:
    """The chunks of the file at `path`, in order. Raises `OSError` as is."""
    with path.open("rb") as handle:
        for span, _data in iter_chunks(handle, params):
            yield span
