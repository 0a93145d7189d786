"""image_format.chunks: round trips on random edits, alignment and bounds, the content-defined
property, strict index parsing, corrupt chunks."""

from __future__ import annotations

import hashlib
import io
import random
from pathlib import Path

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from image_format.chunks import (
    BLOCK_SIZE,
    ChunkCorrupt,
    ChunkIndex,
    ChunkIndexError,
    ChunkParams,
    ChunkParamsError,
    ChunkSpan,
    assemble,
    chunk_file,
    compress_chunk,
    decompress_chunk,
    iter_chunks,
    zero_chunk_id,
)

KIB = 1024
SMALL = ChunkParams(min_size=8 * KIB, avg_size=32 * KIB, max_size=64 * KIB, zero_min_size=16 * KIB)


def _blocks(rng: random.Random, count: int) -> bytes:
    return rng.randbytes(count * BLOCK_SIZE)


def _edit(base: bytes, rng: random.Random, kind: str) -> bytes:
    at = rng.randrange(len(base) + 1)
    if kind == "insert":
        return base[:at] + rng.randbytes(rng.randint(1, 3 * BLOCK_SIZE)) + base[at:]
    if kind == "delete":
        return base[:at] + base[at + rng.randint(1, 3 * BLOCK_SIZE) :]
    if kind == "move":
        length = rng.randint(1, 8) * BLOCK_SIZE
        block, rest = base[at : at + length], base[:at] + base[at + length :]
        to = rng.randrange(len(rest) + 1)
        return rest[:to] + block + rest[to:]
    if kind == "zeros":
        return base[:at] + bytes(rng.randint(1, 40) * BLOCK_SIZE) + base[at:]
    if kind == "append":
        return base + rng.randbytes(rng.randint(1, 5 * BLOCK_SIZE))
    if kind == "truncate":
        return base[: rng.randrange(len(base) + 1)]
    if kind == "empty":
        return b""
    raise AssertionError(kind)


def _index_of(data: bytes, params: ChunkParams) -> tuple[ChunkIndex, dict[str, bytes]]:
    chunks: dict[str, bytes] = {}
    spans = []
    for span, payload in iter_chunks(io.BytesIO(data), params):
        spans.append(span)
        chunks[span.chunk_id] = payload
    return ChunkIndex.from_spans(spans, params), chunks


def _check_layout(index: ChunkIndex, params: ChunkParams) -> None:
    for number, span in enumerate(index.spans):
        assert span.offset % BLOCK_SIZE == 0
        assert 0 < span.size <= params.max_size
        last = number == len(index.spans) - 1
        if not last:
            assert span.size % BLOCK_SIZE == 0
        following_zero = not last and index.spans[number + 1].is_zero
        if not span.is_zero and not last and not following_zero:
            assert span.size >= params.min_size


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32),
    blocks=st.integers(0, 80),
    edits=st.lists(
        st.sampled_from(["insert", "delete", "move", "zeros", "append", "truncate", "empty"]),
        max_size=4,
    ),
)
def test_chunk_compress_decompress_assemble_round_trip(
    tmp_path_factory: pytest.TempPathFactory, seed: int, blocks: int, edits: list[str]
) -> None:
    rng = random.Random(seed)
    data = _blocks(rng, blocks)
    if blocks > 10:
        at = rng.randrange(blocks) * BLOCK_SIZE
        data = data[:at] + bytes(rng.randint(1, 30) * BLOCK_SIZE) + data[at:]
    for kind in edits:
        data = _edit(data, rng, kind)
    index, chunks = _index_of(data, SMALL)
    _check_layout(index, SMALL)
    assert index.size == len(data)
    parsed = ChunkIndex.from_bytes(index.to_bytes())
    assert parsed == index
    wire = {cid: compress_chunk(raw, 3) for cid, raw in chunks.items()}

    def get(span: ChunkSpan) -> bytes:
        assert not span.is_zero, "zero chunks are holes, never fetched"
        return decompress_chunk(wire[span.chunk_id], span.chunk_id, span.size)

    out = tmp_path_factory.mktemp("assemble") / "out"
    written = assemble(parsed, get, out)
    assert out.read_bytes() == data
    assert written == sum(s.size for s in index.spans if not s.is_zero)


def test_zero_runs_are_holes_with_true_ids(tmp_path: Path) -> None:
    rng = random.Random(1)
    data = _blocks(rng, 20) + bytes(200 * BLOCK_SIZE) + _blocks(rng, 20) + bytes(3 * BLOCK_SIZE)
    path = tmp_path / "img"
    path.write_bytes(data)
    index = ChunkIndex.build(path, SMALL)
    zeros = [s for s in index.spans if s.is_zero]
    assert sum(s.size for s in zeros) == 200 * BLOCK_SIZE  # the short tail run stays data
    assert all(s.chunk_id == zero_chunk_id(s.size) for s in zeros)
    out = tmp_path / "out"
    assemble(index, lambda s: data[s.offset : s.end], out)
    assert out.read_bytes() == data
    assert out.stat().st_blocks * 512 < len(data) - 150 * BLOCK_SIZE  # sparse


def test_cut_points_are_aligned_and_within_bounds_on_a_large_file(tmp_path: Path) -> None:
    params = ChunkParams()
    path = tmp_path / "big"
    path.write_bytes(_blocks(random.Random(2), 3000) + b"tail")
    index = ChunkIndex.build(path, params)
    _check_layout(index, params)
    sizes = [s.size for s in index.spans[:-1]]
    assert params.min_size <= sum(sizes) / len(sizes) <= params.max_size
    assert list(chunk_file(path, params)) == list(index.spans)


@pytest.mark.parametrize("inserted_blocks", [1, 3])
def test_a_block_insertion_early_keeps_most_chunk_ids(inserted_blocks: int) -> None:
    """The content-defined property: cuts resynchronise after an insertion of whole blocks."""
    rng = random.Random(3)
    params = ChunkParams(min_size=16 * KIB, avg_size=64 * KIB, max_size=256 * KIB)
    base = _blocks(rng, 4000)
    at = 10 * BLOCK_SIZE + BLOCK_SIZE * 7
    edited = base[:at] + _blocks(rng, inserted_blocks) + base[at:]
    old, _ = _index_of(base, params)
    new, _ = _index_of(edited, params)
    kept = old.chunk_ids() & new.chunk_ids()
    assert len(kept) >= 0.95 * len(old.chunk_ids())
    assert len(new) > 100


def test_a_few_bytes_inserted_keep_the_chunks_of_other_blocks() -> None:
    """Bytes inserted inside a block, the block's content grows: the chunks around it change,
    later chunks realign once the rest of the file is block-aligned again (an insertion of a
    whole number of blocks in total, as file systems do)."""
    rng = random.Random(4)
    params = ChunkParams(min_size=16 * KIB, avg_size=64 * KIB, max_size=256 * KIB)
    base = _blocks(rng, 4000)
    at = 20 * BLOCK_SIZE + 100
    edited = base[:at] + b"xyz" + base[at : 21 * BLOCK_SIZE - 3] + base[21 * BLOCK_SIZE :]
    old, _ = _index_of(base, params)
    new, _ = _index_of(edited, params)
    assert len(old.chunk_ids() & new.chunk_ids()) >= len(old.chunk_ids()) - 3


def test_corrupt_chunks_raise_chunk_corrupt() -> None:
    data = random.Random(5).randbytes(50_000)
    chunk_id = hashlib.sha256(data).hexdigest()
    good = compress_chunk(data, 3)
    assert decompress_chunk(good, chunk_id, len(data)) == data
    flipped = bytearray(good)
    flipped[len(flipped) // 2] ^= 0xFF
    cases = {
        "flipped": bytes(flipped),
        "truncated": good[:-5],
        "trailing": good + b"junk",
        "garbage": b"not zstd at all",
        "other content": compress_chunk(data[:-1] + b"\0", 3),
        "no size": zstandard.ZstdCompressor(write_content_size=False).compress(data),
    }
    for what, wire in cases.items():
        with pytest.raises(ChunkCorrupt) as caught:
            decompress_chunk(wire, chunk_id, len(data))
            pytest.fail(what)
        assert caught.value.chunk_id == chunk_id, what
    with pytest.raises(ChunkCorrupt):
        decompress_chunk(good, chunk_id, len(data) + 1)


def test_assemble_refuses_a_wrong_chunk(tmp_path: Path) -> None:
    data = random.Random(6).randbytes(100 * BLOCK_SIZE)
    index, _ = _index_of(data, SMALL)
    with pytest.raises(ChunkCorrupt) as caught:
        assemble(index, lambda s: bytes(s.size), tmp_path / "out")
    assert caught.value.chunk_id == index.spans[0].chunk_id


def test_index_parsing_is_strict() -> None:
    data = random.Random(7).randbytes(60 * BLOCK_SIZE) + bytes(30 * BLOCK_SIZE) + b"end"
    index, _ = _index_of(data, SMALL)
    raw = index.to_bytes()
    assert ChunkIndex.from_bytes(raw) == index
    assert index.ref().sha256 == index.digest
    assert index.ref().chunk_count == len(index)
    bad = {
        "empty": b"",
        "magic": b"X" + raw[1:],
        "version": raw[:8] + b"\x02" + raw[9:],
        "truncated": raw[:-1],
        "trailing": raw + b"\0",
        "total": raw[:-100] if len(raw) > 200 else raw[:30],
    }
    header = 46
    flags_at = header + 4
    unknown_flag = bytearray(raw)
    unknown_flag[flags_at] = 0x80
    bad["flags"] = bytes(unknown_flag)
    zero_size = bytearray(raw)
    zero_size[header : header + 4] = b"\0\0\0\0"
    bad["zero size"] = bytes(zero_size)
    wrong_total = bytearray(raw)
    wrong_total[37] ^= 1  # the total size: u64 at bytes 30..38
    bad["wrong total"] = bytes(wrong_total)
    for what, blob in bad.items():
        with pytest.raises(ChunkIndexError):
            ChunkIndex.from_bytes(blob)
            pytest.fail(what)


def test_empty_file_has_an_empty_index(tmp_path: Path) -> None:
    path = tmp_path / "empty"
    path.write_bytes(b"")
    index = ChunkIndex.build(path)
    assert len(index) == 0 and index.size == 0
    assert ChunkIndex.from_bytes(index.to_bytes()) == index
    assemble(index, lambda s: b"", tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == b""


@pytest.mark.parametrize(
    "sizes", [(4096, 4096, 8192), (8192, 4096, 16384), (4096, 8192, 10000), (0, 8192, 16384)]
)
def test_bad_params_are_refused(sizes: tuple[int, int, int]) -> None:
    with pytest.raises(ChunkParamsError):
        ChunkParams(*sizes)
