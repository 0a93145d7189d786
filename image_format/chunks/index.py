"""`ChunkIndex`: the ordered chunks of one image, in a compact, strictly parsed binary form.

Layout (big-endian): magic `b"VICHUNKS"`, format version u8 (1), the chunking parameters
(block, min, avg, max, zero-min: u32 each; normalization: u8), total size u64, entry count u64,
then per entry: size u32, flags u8 (bit 0: zero chunk), and for non-zero entries the 32-byte
sha256 of the chunk. Offsets are implicit (entries are contiguous from 0), so an index cannot
describe gaps or overlaps. A zero entry's id is the sha256 of its size in zero bytes. The index's
own sha256 (of these bytes) and size go into the manifest's `ChunkIndexRef`.

Not responsible for chunking policy (`chunker`) nor for fetching. Error contract: `from_bytes`
raises `ChunkIndexError` for anything that is not exactly a valid index: bad magic or version,
truncation, trailing bytes, unknown flags, a zero or oversized entry, a non-final entry that is
not a block multiple, sizes that do not add up.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from image_format.chunks.chunker import ChunkSpan, chunk_file, zero_chunk_id
from image_format.chunks.errors import ChunkIndexError, ChunkParamsError
from image_format.chunks.params import BLOCK_SIZE, DEFAULT_PARAMS, ChunkParams
from image_format.manifest import ChunkIndexRef

MAGIC = b"VICHUNKS"
FORMAT_VERSION = 1
_HEADER = struct.Struct(">8sBIIIIIBQQ")
_ENTRY = struct.Struct(">IB")
_ID_BYTES = 32
_FLAG_ZERO = 1


@dataclass(frozen=True)
class ChunkIndex:
    """The chunks of one file of `size` bytes, in order, made with `params`."""

    params: ChunkParams
    size: int
    spans: tuple[ChunkSpan, ...]

    @classmethod
    def build(cls, path: Path, params: ChunkParams = DEFAULT_PARAMS) -> ChunkIndex:
        """Chunk the file at `path` (streamed). Raises `OSError` as is."""
        return cls.from_spans(chunk_file(path, params), params)

    @classmethod
    def from_spans(cls, spans: Iterable[ChunkSpan], params: ChunkParams) -> ChunkIndex:
        """An index of contiguous spans from 0 (as `iter_chunks` yields them)."""
        ordered = tuple(spans)
        offset = 0
        for span in ordered:
            if span.offset != offset:
                raise ChunkIndexError(f"span at {span.offset} does not follow {offset}")
            offset = span.end
        return cls(params, offset, ordered)

    def __len__(self) -> int:
        return len(self.spans)

    def __iter__(self) -> Iterator[ChunkSpan]:
        return iter(self.spans)

    @property
    def data_spans(self) -> tuple[ChunkSpan, ...]:
        """The spans a fetcher may have to move (zero chunks excluded)."""
        return tuple(span for span in self.spans if not span.is_zero)

    def chunk_ids(self) -> set[str]:
        """The distinct ids of the non-zero chunks."""
        return {span.chunk_id for span in self.spans if not span.is_zero}

    def to_bytes(self) -> bytes:
        p = self.params
        parts = [
            _HEADER.pack(
                MAGIC,
                FORMAT_VERSION,
                BLOCK_SIZE,
                p.min_size,
                p.avg_size,
                p.max_size,
                p.zero_min_size,
                p.normalization,
                self.size,
                len(self.spans),
            )
        ]
        for span in self.spans:
            parts.append(_ENTRY.pack(span.size, _FLAG_ZERO if span.is_zero else 0))
            if not span.is_zero:
                parts.append(bytes.fromhex(span.chunk_id))
        return b"".join(parts)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()

    def ref(self) -> ChunkIndexRef:
        """What the manifest names: the sha256 and size of `to_bytes()`, and the entry count."""
        data = self.to_bytes()
        return ChunkIndexRef(
            sha256=hashlib.sha256(data).hexdigest(), size=len(data), chunk_count=len(self.spans)
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> ChunkIndex:
        if len(data) < _HEADER.size:
            raise ChunkIndexError(f"{len(data)} bytes is shorter than the header", 0)
        magic, version, block, lo, avg, hi, zmin, norm, total, count = _HEADER.unpack_from(data)
        if magic != MAGIC:
            raise ChunkIndexError(f"bad magic {magic!r}", 0)
        if version != FORMAT_VERSION:
            raise ChunkIndexError(f"unknown format version {version}", 8)
        if block != BLOCK_SIZE:
            raise ChunkIndexError(f"block size {block}, expected {BLOCK_SIZE}", 9)
        try:
            params = ChunkParams(lo, avg, hi, zmin, norm)
        except ChunkParamsError as exc:
            raise ChunkIndexError(f"bad parameters: {exc}", 13) from exc
        if count > (len(data) - _HEADER.size) // _ENTRY.size:
            raise ChunkIndexError(
                f"{count} entries cannot fit in {len(data)} bytes", _HEADER.size - 8
            )
        spans: list[ChunkSpan] = []
        pos, offset = _HEADER.size, 0
        for number in range(count):
            if pos + _ENTRY.size > len(data):
                raise ChunkIndexError(f"truncated at entry {number}", pos)
            size, flags = _ENTRY.unpack_from(data, pos)
            if flags & ~_FLAG_ZERO:
                raise ChunkIndexError(f"entry {number} has unknown flags {flags:#x}", pos)
            if not 0 < size <= hi:
                raise ChunkIndexError(f"entry {number} has size {size}", pos)
            if spans and spans[-1].size % BLOCK_SIZE:
                raise ChunkIndexError(f"entry {number - 1} is not a block multiple", pos)
            pos += _ENTRY.size
            if flags & _FLAG_ZERO:
                spans.append(ChunkSpan(offset, size, zero_chunk_id(size), is_zero=True))
            else:
                raw = data[pos : pos + _ID_BYTES]
                if len(raw) != _ID_BYTES:
                    raise ChunkIndexError(f"truncated id of entry {number}", pos)
                spans.append(ChunkSpan(offset, size, raw.hex()))
                pos += _ID_BYTES
            offset += size
        if pos != len(data):
            raise ChunkIndexError(f"{len(data) - pos} bytes after the last entry", pos)
        if offset != total:
            raise ChunkIndexError(f"entries add up to {offset} bytes, the header says {total}")
        return cls(params, total, tuple(spans))
