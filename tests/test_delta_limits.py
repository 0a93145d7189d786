"""What a patch may ask of apply: header fields in range, runs bounded in bytes at every block
size, no stray bytes, no zstd error escaping untyped; and the block sizes make can cut."""

from __future__ import annotations

import hashlib
import io
import random
import struct
import zlib
from pathlib import Path

import pytest
import zstandard

from image_format.delta import (
    DeltaCorrupt,
    DeltaTargetMismatch,
    DeltaUnsupported,
    apply_delta,
    make_delta,
    read_header,
)
from image_format.delta import apply as apply_module
from image_format.delta.header import HEADER_SIZE, DeltaHeader
from image_format.delta.records import (
    COPY,
    DELTA,
    END,
    LITERAL,
    MAX_PAYLOAD_BYTES,
    MAX_REF_BYTES,
    SAME,
    payload_limit,
    reference_limit,
    varint,
)
from image_format.delta.sections import TRAILER_MAGIC
from tests.delta_helpers import leftovers, roundtrip

MIB = 1 << 20


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _section(records: bytes, lane: bytes = b"", junk: bytes = b"") -> bytes:
    compressor = zstandard.ZstdCompressor(write_checksum=True, write_content_size=True)
    frame = compressor.compress(records) + junk
    return b"S" + varint(len(frame)) + varint(len(lane)) + frame + lane


def _patch(header: bytes, *sections: bytes) -> bytes:
    body = header + b"".join(sections)
    return body + struct.pack(">8sQ", TRAILER_MAGIC, len(body))


def _header(block: int, old: bytes, new: bytes, window_log: int = 20) -> bytes:
    return DeltaHeader(block, len(old), _sha(old), len(new), _sha(new), window_log).pack()


def _forged(header: bytes, position: int, value: bytes) -> bytes:
    """`header` with `value` written at `position` and its crc32 made right again."""
    body = header[:position] + value + header[position + len(value) : HEADER_SIZE - 4]
    return body + struct.pack(">I", zlib.crc32(body))


def _apply(folder: Path, old: bytes, patch: bytes) -> bytes:
    (folder / "old.img").write_bytes(old)
    apply_delta(folder / "old.img", io.BytesIO(patch), folder / "out.img")
    return (folder / "out.img").read_bytes()


def _same_patch(block: int, old: bytes) -> tuple[bytes, bytes]:
    """(header, one section) of a patch whose NEW is OLD, as one SAME run."""
    blocks = -(-len(old) // block)
    return _header(block, old, old), _section(
        bytes([SAME]) + varint(blocks) + bytes([END]) + varint(blocks)
    )


@pytest.mark.parametrize("window_log", [0, 9, 10, 11, 27, 255])
def test_a_lane_window_log_out_of_range_is_unsupported(tmp_path: Path, window_log: int) -> None:
    old, new = b"\x01" * 4096, b"\x02" * 4096
    lane = zstandard.ZstdCompressor(write_checksum=True, write_content_size=False).compress(new)
    records = bytes([LITERAL]) + varint(1) + bytes([END]) + varint(1)
    patch = _patch(_header(4096, old, new, window_log), _section(records, lane))
    with pytest.raises(DeltaUnsupported) as caught:
        read_header(io.BytesIO(patch))
    assert caught.value.value == window_log
    with pytest.raises(DeltaUnsupported):
        _apply(tmp_path, old, patch)
    assert leftovers(tmp_path) == []
    patch = _patch(_header(4096, old, new, 12), _section(records, lane))
    assert _apply(tmp_path, old, patch) == new


@pytest.mark.parametrize(
    ("position", "value", "what"),
    [(10, b"\x00\x01", "flags"), (10, b"\x80\x00", "flags"), (97, b"\x00\x00\x01", "reserved")],
)
def test_unknown_flags_and_reserved_bytes_are_unsupported(
    tmp_path: Path, position: int, value: bytes, what: str
) -> None:
    old = b"\x01" * 4096
    header, section = _same_patch(4096, old)
    assert _apply(tmp_path, old, _patch(header, section)) == old
    with pytest.raises(DeltaUnsupported, match=what):
        _apply(tmp_path, old, _patch(_forged(header, position, value), section))
    assert leftovers(tmp_path) == ["out.img"]  # the earlier, good output, and no temp file


def test_bytes_after_the_records_frame_are_corrupt(tmp_path: Path) -> None:
    old = b"\x01" * 4096
    header, _section_ok = _same_patch(4096, old)
    records = bytes([SAME]) + varint(1) + bytes([END]) + varint(1)
    for junk in (b"\x00", b"JUNK" * 100):
        with pytest.raises(DeltaCorrupt, match="unused data"):
            _apply(tmp_path, old, _patch(header, _section(records, junk=junk)))
    assert leftovers(tmp_path) == []


def _delta_record(count: int, ref: int, frame: bytes) -> bytes:
    return bytes([DELTA]) + varint(count) + varint(0) + varint(ref) + varint(len(frame)) + frame


def _delta_frame(data: bytes, reference: bytes) -> bytes:
    dictionary = zstandard.ZstdCompressionDict(reference, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    compressor = zstandard.ZstdCompressor(
        level=1, dict_data=dictionary, write_checksum=False, write_dict_id=False
    )
    return compressor.compress(data)


def test_bytes_after_a_delta_frame_are_corrupt(tmp_path: Path) -> None:
    old = random.Random(1).randbytes(4096)
    new = old[:100] + b"!" + old[101:]
    frame = _delta_frame(new, old)
    for tail, error in ((b"", None), (b"\x00", "unused data")):
        records = _delta_record(1, 1, frame + tail) + bytes([END]) + varint(1)
        patch = _patch(_header(4096, old, new), _section(records))
        if error is None:
            assert _apply(tmp_path, old, patch) == new
        else:
            with pytest.raises(DeltaCorrupt, match=error):
                _apply(tmp_path, old, patch)


@pytest.mark.parametrize("block", [1 << log for log in range(9, 21)])
def test_runs_are_bounded_in_bytes_at_every_block_size(block: int) -> None:
    assert payload_limit(block) >= 1
    assert payload_limit(block) * block <= MAX_PAYLOAD_BYTES
    assert reference_limit(block) >= 1
    assert reference_limit(block) * block <= MAX_REF_BYTES
    assert payload_limit(block) < reference_limit(block)  # room for context around a run


def test_large_blocks_cannot_ask_for_large_runs(tmp_path: Path) -> None:
    """At 1 MiB blocks a DELTA reference of 8 blocks or a LITERAL run of 2 would make apply hold
    8 / 2 MiB (the per-block limits alone allowed a 1 GiB reference: 2.3 GiB of RSS)."""
    old = bytes(range(256)) * 4096 * 8  # 8 MiB: 8 blocks
    new = old[: 2 * MIB]
    reference = old[: 4 * MIB]
    frame = _delta_frame(new[:MIB], reference)
    header = _header(MIB, old, new)
    lane = zstandard.ZstdCompressor(write_checksum=True, write_content_size=False).compress(new)
    hostile = {
        "reference": _delta_record(2, 4, frame),  # 2 blocks
        "reference 8": _delta_record(1, 8, frame),
        "literal": bytes([LITERAL]) + varint(2),
    }
    for what, record in hostile.items():
        patch = _patch(header, _section(record + bytes([END]) + varint(2), lane))
        with pytest.raises(DeltaCorrupt, match=r"limit|reference"):
            _apply(tmp_path, old, patch)
        assert leftovers(tmp_path) == [], what
    frames = _delta_frame(new[MIB:], old[MIB : 5 * MIB])
    allowed = _delta_record(1, 4, frame) + bytes([DELTA]) + varint(1) + varint(1) + varint(4)
    allowed += varint(len(frames)) + frames + bytes([END]) + varint(2)
    assert _apply(tmp_path, old, _patch(header, _section(allowed))) == new


def test_copies_are_read_a_mib_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []
    read_old = apply_module._read_old

    def counting(fd: int, offset: int, size: int, *rest: int) -> bytes:
        sizes.append(size)
        return read_old(fd, offset, size, *rest)

    monkeypatch.setattr(apply_module, "_read_old", counting)
    old = random.Random(2).randbytes(3 * MIB)
    records = bytes([COPY]) + varint(0) + varint(3) + bytes([END]) + varint(3)
    assert _apply(tmp_path, old, _patch(_header(MIB, old, old), _section(records))) == old
    assert sizes == [MIB] * 3


def test_a_zstd_error_anywhere_in_decoding_is_corrupt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(*_args: object) -> bytes:
        raise zstandard.ZstdError("injected")

    monkeypatch.setattr(apply_module, "read_delta_run", failing)
    old = random.Random(3).randbytes(4096)
    records = _delta_record(1, 1, _delta_frame(old, old)) + bytes([END]) + varint(1)
    with pytest.raises(DeltaCorrupt, match="injected") as caught:
        _apply(tmp_path, old, _patch(_header(4096, old, old), _section(records)))
    assert caught.value.offset > HEADER_SIZE
    assert leftovers(tmp_path) == []


def test_a_header_must_give_the_base_its_size(tmp_path: Path) -> None:
    """A lying OLD size would let COPY ask for offsets past 2**63 (an untyped OverflowError)."""
    old = random.Random(5).randbytes(4096)
    blocks = (1 << 64) // 4096 - 1
    records = bytes([COPY]) + varint(blocks - 1) + varint(1) + bytes([END]) + varint(1)
    header = DeltaHeader(4096, (1 << 64) - 1, _sha(old), len(old), _sha(old), 20).pack()
    with pytest.raises(DeltaCorrupt, match="base") as caught:
        _apply(tmp_path, old, _patch(header, _section(records)))
    assert caught.value.offset == 0
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("block", [0, 256, 1000, 1536, 3072, 12288, 3 << 19, 2 << 20])
def test_block_sizes_make_cannot_cut_are_refused(tmp_path: Path, block: int) -> None:
    (tmp_path / "a").write_bytes(b"a" * 5000)
    out = io.BytesIO()
    with pytest.raises(ValueError, match="block_size"):
        make_delta(tmp_path / "a", tmp_path / "a", out, block_size=block)
    assert out.getvalue() == b""
    forged = _forged(_header(4096, b"a", b"a"), 12, struct.pack(">I", block))
    with pytest.raises(DeltaUnsupported, match="block size"):
        read_header(io.BytesIO(forged))


def test_every_block_size_make_accepts_round_trips(tmp_path: Path) -> None:
    rng = random.Random(4)
    old = bytearray(rng.randbytes(2 * MIB + 12345))
    old[MIB // 2 : MIB] = bytes(MIB // 2)
    new = bytearray(old)
    new[100:200] = rng.randbytes(100)
    new[MIB + 5000 : MIB + 9000] = rng.randbytes(4000)
    new += rng.randbytes(3000)
    for log in range(9, 21):
        assert roundtrip(tmp_path, bytes(old), bytes(new), block_size=1 << log) == new, log


def test_a_patch_for_another_result_is_refused_before_reading_the_base(tmp_path: Path) -> None:
    old = b"\x01" * 4096
    header, section = _same_patch(4096, old)
    patch = _patch(header, section)
    missing = tmp_path / "no-such-base"
    with pytest.raises(DeltaTargetMismatch) as caught:
        apply_delta(missing, io.BytesIO(patch), tmp_path / "out.img", expected_new_size=1 << 50)
    assert (caught.value.expected_size, caught.value.header_size) == (1 << 50, len(old))
    with pytest.raises(DeltaTargetMismatch):
        apply_delta(missing, io.BytesIO(patch), tmp_path / "out.img", expected_new_sha256="0" * 64)
    assert leftovers(tmp_path) == []
    (tmp_path / "old.img").write_bytes(old)
    apply_delta(
        tmp_path / "old.img",
        io.BytesIO(patch),
        tmp_path / "out.img",
        expected_new_size=len(old),
        expected_new_sha256=_sha(old),
    )
    assert (tmp_path / "out.img").read_bytes() == old
