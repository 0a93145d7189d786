"""Pack files: where a chunk's zstd frame lives, and how a fetcher turns missing chunks into a few
HTTP Range requests.

A *pack* is an immutable file of zstd frames (one per chunk, concatenated, no header), named by
the sha256 of its bytes and served at `/v1/packs/sha256/<digest>`. A chunk index of format 2 names,
for each data chunk, a `ChunkLocation`: the pack, the frame's offset in it and its compressed
length. Mirrors hold a few packs per GiB instead of thousands of chunk files; a fetcher asks for
byte ranges of packs.

`plan_ranges` coalesces the locations a fetcher needs into ranges: neighbours in one pack merge
when the gap between them is at most `max_gap` bytes (the gap is read and discarded; it counts in
the bytes moved) and the range stays within `max_range` bytes. Not responsible for fetching or
verifying (a frame is checked by `decompress_chunk` against its chunk id). Error contract:
`ChunkIndexError` from `ChunkLocation` for impossible values; `plan_ranges` raises nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from image_format.chunks.errors import ChunkIndexError
from image_format.content_paths import API_PREFIX, blob_relpath
from image_format.digest import validate_digest

MAX_PACK_BYTES = (1 << 32) - 1  # offsets and lengths in an index are u32
DEFAULT_MAX_GAP = 64 << 10
DEFAULT_MAX_RANGE = 8 << 20


def pack_path(digest: str) -> str:
    """GET/HEAD: one pack file by the sha256 of its bytes (Range, immutable)."""
    return f"{API_PREFIX}/packs/sha256/{validate_digest(digest)}"


def pack_relpath(digest: str) -> PurePosixPath:
    """Where a pack lives below the pack store root (`sha256/ab/<digest>`)."""
    return blob_relpath(digest)


@dataclass(frozen=True, slots=True)
class ChunkLocation:
    """A chunk's zstd frame: `length` bytes at `offset` in the pack whose sha256 is `pack`."""

    pack: str
    offset: int
    length: int

    def __post_init__(self) -> None:
        if not 0 < self.length <= MAX_PACK_BYTES or not 0 <= self.offset <= MAX_PACK_BYTES:
            raise ChunkIndexError(f"location {self.offset}+{self.length} is out of range")
        if self.offset + self.length > MAX_PACK_BYTES:
            raise ChunkIndexError(f"location {self.offset}+{self.length} ends past 4 GiB")

    @property
    def end(self) -> int:
        return self.offset + self.length


@dataclass(frozen=True)
class PackRange:
    """One Range request: `[start, end)` of `pack`, holding the frames `members` (in offset
    order); bytes between them are read and discarded."""

    pack: str
    start: int
    end: int
    members: tuple[tuple[str, ChunkLocation], ...]

    @property
    def length(self) -> int:
        return self.end - self.start

    @property
    def waste(self) -> int:
        """Bytes of the range that belong to no member (gaps read and discarded)."""
        return self.length - sum(location.length for _, location in self.members)


def plan_ranges(
    wanted: Iterable[tuple[str, ChunkLocation]],
    *,
    max_gap: int = DEFAULT_MAX_GAP,
    max_range: int = DEFAULT_MAX_RANGE,
) -> list[PackRange]:
    """Coalesce `(chunk_id, location)` pairs into ranges, sorted by pack and offset. A chunk id
    listed twice is fetched once."""
    unique: dict[str, ChunkLocation] = {}
    for chunk_id, location in wanted:
        unique.setdefault(chunk_id, location)
    ordered = sorted(unique.items(), key=lambda item: (item[1].pack, item[1].offset))
    ranges: list[PackRange] = []
    members: list[tuple[str, ChunkLocation]] = []
    for chunk_id, location in ordered:
        if members:
            first, last = members[0][1], members[-1][1]
            joins = (
                location.pack == last.pack
                and location.offset - last.end <= max_gap
                and max(location.end, last.end) - first.offset <= max_range
            )
            if not joins:
                ranges.append(_range(members))
                members = []
        members.append((chunk_id, location))
    if members:
        ranges.append(_range(members))
    return ranges


def _range(members: list[tuple[str, ChunkLocation]]) -> PackRange:
    start = members[0][1].offset
    end = max(location.end for _, location in members)
    return PackRange(members[0][1].pack, start, end, tuple(members))
