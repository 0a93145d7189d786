"""`ChunkIndex`: the ordered chunks of one image, in a compact, strictly parsed binary form.

Layout (big-endian): magic `b"VICHUNKS"`, format version u8 (1 or 2), the chunking parameters
(block, min, avg, max, zero-min: u32 each; normalization: u8), total size u64, entry count u64;
format 2 then has a pack count u32 and each pack's 32-byte sha256; then per entry: size u32,
flags u8 (bit 0: zero chunk), and for non-zero entries the 32-byte sha256 of the chunk, followed
in format 2 by its location: pack number u32, offset in the pack u32, compressed length u32
(`packs.ChunkLocation`). Offsets in the image are implicit (entries are contiguous from 0), so an
index cannot describe gaps or overlaps. A zero entry's id is the sha256 of its size in zero bytes
and it has no location. The index's own sha256 (of these bytes) and size go into the manifest's
`ChunkIndexRef`, so the signed manifest covers where every chunk is as well as what it is.

Format 1 (no locations; chunks fetched one by one from `/v1/chunks`) is still read: hosts keep
older indexes of their cached images as donors.

Not responsible for chunking policy (`chunker`) nor for fetching. Error contract: `from_bytes`
raises `ChunkIndexError` for anything that is not exactly a valid index: bad magic or version,
truncation, trailing bytes, unknown flags, a zero or oversized entry, a non-final entry that is
not a block multiple, sizes that do not add up, a pack number out of range, a location past
4 GiB, a pack listed but never used.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from image_format.chunks.chunker import ChunkSpan, chunk_file, zero_chunk_id
from image_format.chunks.errors import ChunkIndexError, ChunkParamsError
from image_format.chunks.packs import ChunkLocation
from image_format.chunks.params import BLOCK_SIZE, DEFAULT_PARAMS, ChunkParams
from image_format.manifest import ChunkIndexRef

MAGIC = b"VICHUNKS"
FORMAT_UNPACKED = 1
FORMAT_PACKED = 2
_HEADER = struct.Struct(">8sBIIIIIBQQ")
_COUNT = struct.Struct(">I")
_ENTRY = struct.Struct(">IB")
_LOCATION = struct.Struct(">III")
_ID_BYTES = 32
_FLAG_ZERO = 1


@dataclass(frozen=True)
class ChunkIndex:
    """The chunks of one file of `size` bytes, in order, made with `params`.

    `locations` is empty (format 1: no packs) or parallel to `spans`: where each data chunk's
    frame lives (`None` for zero chunks).
    """

    params: ChunkParams
    size: int
    spans: tuple[ChunkSpan, ...]
    locations: tuple[ChunkLocation | None, ...] = ()

    def __post_init__(self) -> None:
        if not self.locations:
            return
        if len(self.locations) != len(self.spans):
            raise ChunkIndexError(f"{len(self.locations)} locations for {len(self.spans)} spans")
        for span, location in zip(self.spans, self.locations, strict=True):
            if (location is None) != span.is_zero:
                raise ChunkIndexError(f"chunk at {span.offset}: a location iff it holds data")

    @classmethod
    def build(cls, path: Path, params: ChunkParams = DEFAULT_PARAMS) -> ChunkIndex:
        """Chunk the file at `path` (streamed). Raises `OSError` as is."""
        return cls.from_spans(chunk_file(path, params), params)

    @classmethod
    def from_spans(
        cls,
        spans: Iterable[ChunkSpan],
        params: ChunkParams,
        locations: Iterable[ChunkLocation | None] = (),
    ) -> ChunkIndex:
        """An index of contiguous spans from 0 (as `iter_chunks` yields them), with the packs'
        locations of their chunks when given."""
        ordered = tuple(spans)
        offset = 0
        for span in ordered:
            if span.offset != offset:
                raise ChunkIndexError(f"span at {span.offset} does not follow {offset}")
            offset = span.end
        return cls(params, offset, ordered, tuple(locations))

    @property
    def packed(self) -> bool:
        """True when the index says where each chunk lives in a pack (format 2)."""
        return len(self.locations) == len(self.spans)

    def packs(self) -> tuple[str, ...]:
        """The digests of the packs the index refers to, in order of first use."""
        return tuple(dict.fromkeys(loc.pack for loc in self.locations if loc is not None))

    def located_spans(self) -> Iterator[tuple[ChunkSpan, ChunkLocation]]:
        """Each data span with its location (nothing for a format-1 index)."""
        for span, location in zip(self.spans, self.locations, strict=False):
            if location is not None:
                yield span, location

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
        packs = self.packs()
        numbers = {digest: number for number, digest in enumerate(packs)}
        parts = [
            _HEADER.pack(
                MAGIC,
                FORMAT_PACKED if self.locations else FORMAT_UNPACKED,
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
        if self.locations:
            parts.append(_COUNT.pack(len(packs)))
            parts.extend(bytes.fromhex(digest) for digest in packs)
        for number, span in enumerate(self.spans):
            parts.append(_ENTRY.pack(span.size, _FLAG_ZERO if span.is_zero else 0))
            if not span.is_zero:
                parts.append(bytes.fromhex(span.chunk_id))
                location = self.locations[number] if self.locations else None
                if location is not None:
                    parts.append(
                        _LOCATION.pack(numbers[location.pack], location.offset, location.length)
                    )
        return b"".join(parts)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()

    def ref(self) -> ChunkIndexRef:
        """What the manifest names: the sha256 and size of `to_bytes()`, the entry count, and
        the stored size of its data chunks."""
        data = self.to_bytes()
        return ChunkIndexRef(
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
            chunk_count=len(self.spans),
            data_chunk_bytes=self.stored_data_bytes(),
        )

    def stored_data_bytes(self) -> int | None:
        """The stored (zstd frame) bytes of the distinct non-zero chunks; None without locations
        (format 1)."""
        if not self.packed:
            return None
        lengths = {span.chunk_id: location.length for span, location in self.located_spans()}
        return sum(lengths.values())

    @classmethod
    def from_bytes(cls, data: bytes) -> ChunkIndex:
        if len(data) < _HEADER.size:
            raise ChunkIndexError(f"{len(data)} bytes is shorter than the header", 0)
        magic, version, block, lo, avg, hi, zmin, norm, total, count = _HEADER.unpack_from(data)
        if magic != MAGIC:
            raise ChunkIndexError(f"bad magic {magic!r}", 0)
        if version not in (FORMAT_UNPACKED, FORMAT_PACKED):
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
        pos = _HEADER.size
        packs: list[str] = []
        if version == FORMAT_PACKED:
            packs, pos = _read_packs(data, pos)
        spans: list[ChunkSpan] = []
        locations: list[ChunkLocation | None] = []
        offset = 0
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
                locations.append(None)
            else:
                raw = data[pos : pos + _ID_BYTES]
                if len(raw) != _ID_BYTES:
                    raise ChunkIndexError(f"truncated id of entry {number}", pos)
                spans.append(ChunkSpan(offset, size, raw.hex()))
                pos += _ID_BYTES
                if version == FORMAT_PACKED:
                    locations.append(_read_location(data, pos, packs, number))
                    pos += _LOCATION.size
            offset += size
        if pos != len(data):
            raise ChunkIndexError(f"{len(data) - pos} bytes after the last entry", pos)
        if offset != total:
            raise ChunkIndexError(f"entries add up to {offset} bytes, the header says {total}")
        if version == FORMAT_UNPACKED:
            return cls(params, total, tuple(spans))
        used = {location.pack for location in locations if location is not None}
        if used != set(packs):
            raise ChunkIndexError(f"{len(set(packs) - used)} packs are listed but never used")
        return cls(params, total, tuple(spans), tuple(locations))


def _read_packs(data: bytes, pos: int) -> tuple[list[str], int]:
    """The pack table of a format-2 index at `pos`; returns it and the position after it."""
    if pos + _COUNT.size > len(data):
        raise ChunkIndexError("truncated pack count", pos)
    (count,) = _COUNT.unpack_from(data, pos)
    pos += _COUNT.size
    if count * _ID_BYTES > len(data) - pos:
        raise ChunkIndexError(f"{count} packs cannot fit in {len(data)} bytes", pos)
    packs = [data[pos + n * _ID_BYTES : pos + (n + 1) * _ID_BYTES].hex() for n in range(count)]
    if len(set(packs)) != len(packs):
        raise ChunkIndexError("a pack is listed twice", pos)
    return packs, pos + count * _ID_BYTES


def _read_location(data: bytes, pos: int, packs: list[str], number: int) -> ChunkLocation:
    if pos + _LOCATION.size > len(data):
        raise ChunkIndexError(f"truncated location of entry {number}", pos)
    pack, offset, length = _LOCATION.unpack_from(data, pos)
    if pack >= len(packs):
        raise ChunkIndexError(f"entry {number} names pack {pack} of {len(packs)}", pos)
    return ChunkLocation(packs[pack], offset, length)
