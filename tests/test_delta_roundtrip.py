"""Property tests: make + apply rebuilds the new image exactly, whatever the edits."""

from __future__ import annotations

import io
import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from image_format.delta import apply_delta, make_delta, read_header, sections
from tests.delta_helpers import TEST_BLOCK, make_patch, roundtrip

_segment = st.one_of(
    st.binary(min_size=1, max_size=3000),
    st.integers(1, 4000).map(bytes),  # zero runs
    st.tuples(st.binary(min_size=1, max_size=16), st.integers(1, 200)).map(lambda t: t[0] * t[1]),
)
_image = st.lists(_segment, max_size=8).map(b"".join)


def _edit(data: bytes, rng: random.Random, edits: int) -> bytes:
    out = bytearray(data)
    for _ in range(edits):
        kind = rng.choice(["insert", "delete", "move", "zero", "append", "truncate", "flip"])
        pos = rng.randrange(len(out) + 1)
        if kind == "insert":
            out[pos:pos] = rng.randbytes(rng.randint(1, 700))
        elif kind == "delete":
            del out[pos : pos + rng.randint(1, 900)]
        elif kind == "move" and len(out) >= 2 * TEST_BLOCK:
            start = rng.randrange(len(out) // TEST_BLOCK) * TEST_BLOCK
            piece = bytes(out[start : start + TEST_BLOCK * rng.randint(1, 3)])
            to = rng.randrange(len(out) // TEST_BLOCK + 1) * TEST_BLOCK
            out[to : to + len(piece)] = piece
        elif kind == "zero":
            count = rng.randint(1, 3 * TEST_BLOCK)
            out[pos : pos + count] = bytes(len(out[pos : pos + count]))
        elif kind == "append":
            out += rng.randbytes(rng.randint(1, 1500))
        elif kind == "truncate":
            del out[pos:]
        elif out:
            out[min(pos, len(out) - 1)] ^= 0x5A
    return bytes(out)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(old=_image, seed=st.integers(0, 2**32), edits=st.integers(0, 6))
def test_roundtrip_after_random_edits(old: bytes, seed: int, edits: int) -> None:
    new = _edit(old, random.Random(seed), edits)
    with tempfile.TemporaryDirectory() as folder:
        assert roundtrip(Path(folder), old, new) == new


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    old=_image,
    seed=st.integers(0, 2**32),
    edits=st.integers(0, 6),
    lane_blocks=st.integers(1, 4),
    record_bytes=st.integers(1, 64),
)
def test_roundtrip_across_many_small_sections(
    old: bytes, seed: int, edits: int, lane_blocks: int, record_bytes: int
) -> None:
    """Sections closing every few literal blocks or record bytes change nothing but framing."""
    new = _edit(old, random.Random(seed), edits)
    with pytest.MonkeyPatch.context() as patch, tempfile.TemporaryDirectory() as folder:
        patch.setattr(sections, "SECTION_LANE_BYTES", lane_blocks * TEST_BLOCK)
        patch.setattr(sections, "SECTION_RECORD_BYTES", record_bytes)
        assert roundtrip(Path(folder), old, new) == new


@settings(max_examples=60, deadline=None)
@given(old=_image, new=_image)
def test_roundtrip_unrelated_images(old: bytes, new: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        assert roundtrip(Path(folder), old, new) == new


def test_empty_old_new_and_both(tmp_path: Path) -> None:
    data = random.Random(1).randbytes(5000)
    assert roundtrip(tmp_path, b"", data) == data
    assert roundtrip(tmp_path, data, b"") == b""
    assert roundtrip(tmp_path, b"", b"") == b""


def test_moved_blocks_are_copies_and_zero_runs_cost_nothing(tmp_path: Path) -> None:
    rng = random.Random(2)
    blocks = [rng.randbytes(TEST_BLOCK) for _ in range(64)]
    old = b"".join(blocks)
    new = b"".join(reversed(blocks)) + bytes(TEST_BLOCK * 4096)  # 2 MiB of zeros appended
    (tmp_path / "old").write_bytes(old)
    (tmp_path / "new").write_bytes(new)
    patch, stats = make_patch(tmp_path / "old", tmp_path / "new")
    assert stats.blocks["copy"] == 64 and stats.blocks["zero"] == 4096
    assert stats.blocks["literal"] == stats.blocks["delta"] == 0
    assert len(patch) < 1024  # 64 copy records and one zero run
    assert roundtrip(tmp_path, old, new) == new


def test_edits_are_deltas_against_the_old_blocks(tmp_path: Path) -> None:
    old = random.Random(3).randbytes(TEST_BLOCK * 32)
    new = bytearray(old)
    for block in range(0, 32, 2):
        new[block * TEST_BLOCK + 7] ^= 1
    (tmp_path / "old").write_bytes(old)
    (tmp_path / "new").write_bytes(bytes(new))
    patch, stats = make_patch(tmp_path / "old", tmp_path / "new")
    assert stats.blocks == {"zero": 0, "same": 16, "copy": 0, "literal": 0, "delta": 16}
    assert len(patch) < 2048  # 16 one-byte edits, not 16 blocks of random bytes
    shifted = old[:1000] + b"inserted" + old[1000:]  # everything after the edit moves
    (tmp_path / "new").write_bytes(shifted)
    patch, stats = make_patch(tmp_path / "old", tmp_path / "new")
    assert stats.blocks["delta"] == 32 and len(patch) < 1024  # block 0 is unchanged
    assert roundtrip(tmp_path, old, shifted) == shifted


def test_header_names_both_images(tmp_path: Path) -> None:
    import hashlib

    old, new = b"a" * 1000, b"b" * 3000
    (tmp_path / "old").write_bytes(old)
    (tmp_path / "new").write_bytes(new)
    patch, stats = make_patch(tmp_path / "old", tmp_path / "new")
    header = read_header(io.BytesIO(patch))
    assert header == stats.header
    assert (header.old_size, header.new_size) == (1000, 3000)
    assert header.old_sha256 == hashlib.sha256(old).hexdigest()
    assert header.new_sha256 == hashlib.sha256(new).hexdigest()
    assert header.block_size == TEST_BLOCK


def test_apply_output_is_sparse(tmp_path: Path) -> None:
    rng = random.Random(4)
    old = rng.randbytes(64 * 1024)
    new = old[:8192] + bytes(32 << 20) + rng.randbytes(4096)  # 32 MiB hole in the middle
    (tmp_path / "old").write_bytes(old)
    (tmp_path / "new").write_bytes(new)
    out = io.BytesIO()
    make_delta(tmp_path / "old", tmp_path / "new", out, level=3, window_log=20)
    apply_delta(tmp_path / "old", io.BytesIO(out.getvalue()), tmp_path / "out")
    assert (tmp_path / "out").read_bytes() == new
    stat = (tmp_path / "out").stat()
    assert stat.st_size == len(new)
    assert stat.st_blocks * 512 < 1 << 20, "the zero run was written instead of left as a hole"
