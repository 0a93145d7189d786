"""Format 2's body: records and literal lanes in sections, lanes compressed on worker threads."""

from __future__ import annotations

import hashlib
import io
import random
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from image_format.delta import DeltaCorrupt, DeltaUnsupported, apply_delta, make_delta
from image_format.delta import sections as sections_module
from image_format.delta.header import HEADER_SIZE, DeltaHeader
from image_format.delta.lanes import lane_parameters
from image_format.delta.records import RecordWriter
from image_format.delta.sections import CountingWriter, SectionWriter
from tests.delta_helpers import TEST_BLOCK, leftovers, make_patch, roundtrip

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@pytest.fixture
def small_sections(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Sections close after 3 blocks of literal bytes or 40 record bytes."""
    monkeypatch.setattr(sections_module, "SECTION_LANE_BYTES", 3 * TEST_BLOCK)
    monkeypatch.setattr(sections_module, "SECTION_RECORD_BYTES", 40)
    yield


def _scattered_edits(rng: random.Random) -> tuple[bytes, bytes]:
    """An old image and a new one with new content, moved blocks and zeros interleaved."""
    blocks = [rng.randbytes(TEST_BLOCK) for _ in range(48)]
    new_blocks = []
    for number, block in enumerate(blocks):
        kind = number % 4
        if kind == 0:
            new_blocks.append(rng.randbytes(TEST_BLOCK))  # literal
        elif kind == 1:
            new_blocks.append(blocks[(number * 7) % len(blocks)])  # copy from elsewhere
        elif kind == 2:
            new_blocks.append(bytes(TEST_BLOCK))
        else:
            new_blocks.append(block)
    return b"".join(blocks), b"".join(new_blocks) + rng.randbytes(5 * TEST_BLOCK + 77)


def test_many_sections_round_trip(tmp_path: Path, small_sections: None) -> None:
    old, new = _scattered_edits(random.Random(11))
    (tmp_path / "old.img").write_bytes(old)
    (tmp_path / "new.img").write_bytes(new)
    _patch, stats = make_patch(tmp_path / "old.img", tmp_path / "new.img")
    assert stats.sections >= 5
    assert stats.blocks["literal"] >= 12
    assert roundtrip(tmp_path, old, new) == new


def test_the_patch_does_not_depend_on_the_thread_count(
    tmp_path: Path, small_sections: None
) -> None:
    old, new = _scattered_edits(random.Random(12))
    (tmp_path / "old.img").write_bytes(old)
    (tmp_path / "new.img").write_bytes(new)
    patches = set()
    for threads in (1, 2, 4):
        out = io.BytesIO()
        make_delta(
            tmp_path / "old.img",
            tmp_path / "new.img",
            out,
            block_size=TEST_BLOCK,
            level=3,
            window_log=16,
            threads=threads,
        )
        patches.add(out.getvalue())
    assert len(patches) == 1


def test_new_content_shares_one_lane(tmp_path: Path) -> None:
    """Repeats of new content far apart cost little: one stream, not independent frames."""
    rng = random.Random(13)
    old = rng.randbytes(64 * TEST_BLOCK)
    piece = rng.randbytes(20 * TEST_BLOCK)
    new = piece + old[: 32 * TEST_BLOCK] + piece[:-1] + b"!"  # the repeat is off the grid
    (tmp_path / "old.img").write_bytes(old)
    (tmp_path / "new.img").write_bytes(new)
    patch, stats = make_patch(tmp_path / "old.img", tmp_path / "new.img")
    assert stats.blocks["copy"] == 32
    assert len(piece) < len(patch) < len(piece) + 2048
    assert roundtrip(tmp_path, old, new) == new


def _handmade(tmp_path: Path, blocks: int, lane: bytes) -> bytes:
    """A patch for a `blocks`-block NEW whose records say LITERAL `blocks` over `lane`."""
    (tmp_path / "old.img").write_bytes(b"x" * TEST_BLOCK)
    old_sha = hashlib.sha256(b"x" * TEST_BLOCK).hexdigest()
    header = DeltaHeader(TEST_BLOCK, TEST_BLOCK, old_sha, blocks * TEST_BLOCK, "0" * 64, 16)
    out = io.BytesIO()
    sink = CountingWriter(out)
    sink.write(header.pack())
    sections = SectionWriter(sink, 3, lane_parameters(3, 16), 1)
    writer = RecordWriter(sections)
    writer.add_literal(blocks, lane)
    writer.finish(blocks)
    sections.finish()
    return out.getvalue()


@pytest.mark.parametrize(("blocks", "lane_blocks"), [(2, 3), (3, 2), (1, 0)])
def test_a_lane_must_hold_exactly_what_its_records_use(
    tmp_path: Path, blocks: int, lane_blocks: int
) -> None:
    patch = _handmade(tmp_path, blocks, bytes(lane_blocks * TEST_BLOCK))
    with pytest.raises(DeltaCorrupt, match="lane"):
        apply_delta(tmp_path / "old.img", io.BytesIO(patch), tmp_path / "out.img")
    assert leftovers(tmp_path) == []


def test_damage_inside_a_lane_is_corrupt(tmp_path: Path) -> None:
    rng = random.Random(14)
    lane = rng.randbytes(3 * TEST_BLOCK)
    patch = _handmade(tmp_path, 3, lane)
    start = patch.rindex(ZSTD_MAGIC)  # the lane's frame follows the records' frame
    for position in range(start, len(patch) - 16, max(1, (len(patch) - 16 - start) // 50)):
        damaged = bytearray(patch)
        damaged[position] ^= 0x10
        with pytest.raises(DeltaCorrupt):
            apply_delta(tmp_path / "old.img", io.BytesIO(bytes(damaged)), tmp_path / "out.img")
    assert leftovers(tmp_path) == []


def test_a_huge_lane_dictionary_is_refused(tmp_path: Path) -> None:
    header = DeltaHeader(TEST_BLOCK, 1, "0" * 64, 1, "0" * 64, 16)
    packed = bytearray(header.pack())
    body = bytes(packed[: HEADER_SIZE - 4])
    body = body[:96] + bytes((40,)) + body[97:]  # lane dictionary of 2**40 bytes
    forged = body + struct.pack(">I", zlib.crc32(body))
    with pytest.raises(DeltaUnsupported):
        apply_delta(tmp_path / "old.img", io.BytesIO(forged + bytes(64)), tmp_path / "out.img")


def test_make_refuses_an_unreadable_dictionary(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"a")
    with pytest.raises(ValueError):
        make_delta(tmp_path / "a", tmp_path / "a", io.BytesIO(), window_log=27)
