"""Packed chunk indexes (format 2) and range planning: a pack-located index round-trips and
assembles from pack bytes, parsing refuses every inconsistent location, format 1 still reads,
and `plan_ranges` coalesces neighbours within the gap and range limits, counting gaps."""

from __future__ import annotations

import hashlib
import io
import random
import struct
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from image_format.chunks import (
    BLOCK_SIZE,
    ChunkIndex,
    ChunkIndexError,
    ChunkLocation,
    ChunkParams,
    ChunkSpan,
    assemble,
    compress_chunk,
    decompress_chunk,
    iter_chunks,
    plan_ranges,
)

KIB = 1024
SMALL = ChunkParams(min_size=4 * KIB, avg_size=16 * KIB, max_size=64 * KIB, zero_min_size=4 * KIB)


def _packed(data: bytes, pack_bytes: int) -> tuple[ChunkIndex, dict[str, bytes]]:
    """Chunk `data` and pack its distinct data chunks in order, a new pack past `pack_bytes`."""
    packs: dict[str, bytes] = {}
    current = bytearray()
    pending: list[tuple[str, int, int]] = []
    located: dict[str, ChunkLocation] = {}

    def seal() -> None:
        digest = hashlib.sha256(current).hexdigest()
        packs[digest] = bytes(current)
        located.update({c: ChunkLocation(digest, o, n) for c, o, n in pending})
        current.clear()
        pending.clear()

    spans: list[ChunkSpan] = []
    for span, payload in iter_chunks(io.BytesIO(data), SMALL):
        spans.append(span)
        if span.is_zero or span.chunk_id in located or any(span.chunk_id == p[0] for p in pending):
            continue
        frame = compress_chunk(payload, 3)
        pending.append((span.chunk_id, len(current), len(frame)))
        current.extend(frame)
        if len(current) >= pack_bytes:
            seal()
    if pending:
        seal()
    locations = [None if s.is_zero else located[s.chunk_id] for s in spans]
    return ChunkIndex.from_spans(spans, SMALL, locations), packs


def _image(seed: int, blocks: int = 200) -> bytes:
    rng = random.Random(seed)
    parts = []
    for _ in range(blocks // 10):
        parts.append(
            rng.randbytes(8 * BLOCK_SIZE) if rng.random() < 0.7 else bytes(10 * BLOCK_SIZE)
        )
    repeated = parts[0]
    return b"".join(parts) + repeated + b"tail"  # a chunk used twice, a short last chunk


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32), pack_kib=st.integers(8, 400))
def test_a_packed_index_round_trips_and_assembles_from_pack_slices(
    seed: int, pack_kib: int
) -> None:
    data = _image(seed)
    index, packs = _packed(data, pack_kib * KIB)
    assert index.packed and len(index.packs()) == len(packs)
    raw = index.to_bytes()
    assert raw[8] == 2  # format 2
    parsed = ChunkIndex.from_bytes(raw)
    assert parsed == index
    where = dict((span.chunk_id, loc) for span, loc in parsed.located_spans())
    assert set(where) == parsed.chunk_ids()

    def get(span: ChunkSpan) -> bytes:
        loc = where[span.chunk_id]
        return decompress_chunk(packs[loc.pack][loc.offset : loc.end], span.chunk_id, span.size)

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out"
        assemble(parsed, get, out)
        assert out.read_bytes() == data


def test_a_format_1_index_still_parses_and_has_no_locations() -> None:
    data = _image(3)
    index, _ = _packed(data, 1 << 20)
    unpacked = ChunkIndex(index.params, index.size, index.spans)
    raw = unpacked.to_bytes()
    assert raw[8] == 1
    parsed = ChunkIndex.from_bytes(raw)
    assert parsed == unpacked and not parsed.packed and list(parsed.located_spans()) == []
    assert len(raw) < len(index.to_bytes())


def _entries_start(raw: bytes, packs: int) -> int:
    return 8 + 1 + 4 * 5 + 1 + 8 + 8 + 4 + 32 * packs


def test_packed_index_parsing_is_strict() -> None:
    index, packs = _packed(_image(5), 1 << 30)
    assert len(packs) == 1
    raw = bytearray(index.to_bytes())
    start = _entries_start(bytes(raw), 1)
    first = index.spans[0]
    assert not first.is_zero
    location_at = start + 5 + 32

    def broken(offset: int, value: bytes) -> bytes:
        copy = bytearray(raw)
        copy[offset : offset + len(value)] = value
        return bytes(copy)

    bad = {
        "pack number out of range": broken(location_at, struct.pack(">I", 1)),
        "zero length": broken(location_at + 8, struct.pack(">I", 0)),
        "past 4 GiB": broken(location_at + 4, struct.pack(">I", 0xFFFFFFF0)),
        "truncated location": bytes(raw[: location_at + 6]),
        "pack count too large": broken(start - 32 - 4, struct.pack(">I", 10**6)),
    }
    header_end = start - 32 - 4
    unused = bytes(raw[:header_end]) + struct.pack(">I", 2) + bytes(raw[start - 32 : start])
    unused += b"\x11" * 32 + bytes(raw[start:])
    bad["pack listed but never used"] = unused
    twice = bytes(raw[:header_end]) + struct.pack(">I", 2) + bytes(raw[start - 32 : start]) * 2
    bad["pack listed twice"] = twice + bytes(raw[start:])
    for what, data in bad.items():
        with pytest.raises(ChunkIndexError):
            ChunkIndex.from_bytes(data)
            pytest.fail(f"{what}: parsed")


def test_locations_must_match_the_spans() -> None:
    index, _ = _packed(_image(7), 1 << 20)
    with pytest.raises(ChunkIndexError):
        ChunkIndex(index.params, index.size, index.spans, index.locations[:-1])
    data_at = next(n for n, s in enumerate(index.spans) if not s.is_zero)
    holes = list(index.locations)
    holes[data_at] = None
    with pytest.raises(ChunkIndexError):
        ChunkIndex(index.params, index.size, index.spans, tuple(holes))


# -- plan_ranges ----------------------------------------------------------------------------------

A, B = "a" * 64, "b" * 64


def _loc(pack: str, offset: int, length: int) -> ChunkLocation:
    return ChunkLocation(pack, offset, length)


def test_neighbours_merge_and_gaps_are_counted() -> None:
    wanted = [
        ("c3", _loc(A, 300, 100)),  # listed out of order: ranges follow the pack
        ("c1", _loc(A, 0, 100)),
        ("c2", _loc(A, 100, 100)),  # adjacent
        ("c4", _loc(B, 0, 50)),  # another pack: its own range
        ("c1", _loc(A, 0, 100)),  # a chunk used twice is fetched once
    ]
    ranges = plan_ranges(wanted, max_gap=100, max_range=1000)
    assert [(r.pack, r.start, r.end) for r in ranges] == [(A, 0, 400), (B, 0, 50)]
    assert [cid for cid, _ in ranges[0].members] == ["c1", "c2", "c3"]
    assert ranges[0].waste == 100 and ranges[1].waste == 0
    split = plan_ranges(wanted, max_gap=99, max_range=1000)
    assert [(r.start, r.end) for r in split if r.pack == A] == [(0, 200), (300, 400)]
    assert sum(r.waste for r in split) == 0


def test_ranges_stay_within_the_range_limit() -> None:
    wanted = [(f"c{n}", _loc(A, n * 100, 100)) for n in range(10)]
    ranges = plan_ranges(wanted, max_gap=0, max_range=350)
    assert [(r.start, r.end) for r in ranges] == [(0, 300), (300, 600), (600, 900), (900, 1000)]
    assert plan_ranges([], max_gap=0, max_range=1) == []


def test_a_location_out_of_range_is_refused() -> None:
    for offset, length in [(0, 0), (-1, 10), (2**32 - 5, 10)]:
        with pytest.raises(ChunkIndexError):
            ChunkLocation(A, offset, length)
