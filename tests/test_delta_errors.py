"""A damaged patch, a patch for another base: typed errors, and nothing left at the output."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest

from image_format.delta import (
    DeltaBaseMismatch,
    DeltaCorrupt,
    DeltaInputChanged,
    DeltaUnsupported,
    apply_delta,
    make_delta,
)
from image_format.delta.header import HEADER_SIZE
from tests.delta_helpers import leftovers, make_patch


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path, bytes]:
    rng = random.Random(7)
    old = rng.randbytes(200_000) + bytes(100_000)
    new = bytearray(old)
    new[5000:5000] = rng.randbytes(3000)  # an insertion: literals in the body
    new[150_000:150_100] = bytes(100)
    (tmp_path / "old.img").write_bytes(old)
    (tmp_path / "new.img").write_bytes(bytes(new))
    patch, _ = make_patch(tmp_path / "old.img", tmp_path / "new.img")
    return tmp_path / "old.img", tmp_path / "new.img", patch


def _apply(old: Path, patch: bytes) -> None:
    apply_delta(old, io.BytesIO(patch), old.parent / "out.img")


def test_every_truncation_is_corrupt_and_leaves_nothing(pair: tuple[Path, Path, bytes]) -> None:
    old, _new, patch = pair
    cuts = sorted(
        {*range(0, len(patch), max(1, len(patch) // 40)), *range(len(patch) - 24, len(patch))}
    )
    for cut in cuts:
        with pytest.raises(DeltaCorrupt) as caught:
            _apply(old, patch[:cut])
        assert 0 <= caught.value.offset <= len(patch)
        assert leftovers(old.parent) == [], cut


def test_trailing_garbage_is_corrupt(pair: tuple[Path, Path, bytes]) -> None:
    old, _new, patch = pair
    with pytest.raises(DeltaCorrupt):
        _apply(old, patch + b"x")
    assert leftovers(old.parent) == []


def test_any_flipped_byte_is_corrupt(pair: tuple[Path, Path, bytes]) -> None:
    old, _new, patch = pair
    rng = random.Random(8)
    positions = [*range(0, HEADER_SIZE, 3), *rng.sample(range(HEADER_SIZE, len(patch)), 60)]
    for position in positions:
        damaged = bytearray(patch)
        damaged[position] ^= 1 << rng.randrange(8)
        with pytest.raises((DeltaCorrupt, DeltaUnsupported)):
            _apply(old, bytes(damaged))
        assert leftovers(old.parent) == [], position


def test_another_base_fails_before_any_output(pair: tuple[Path, Path, bytes]) -> None:
    old, new, patch = pair
    with pytest.raises(DeltaBaseMismatch) as caught:
        _apply(new, patch)  # the new image is not the base
    assert caught.value.expected != caught.value.actual
    assert leftovers(old.parent) == []
    with pytest.raises(DeltaBaseMismatch):
        apply_delta(old, io.BytesIO(patch), old.parent / "out.img", expected_old_sha256="0" * 64)


def test_an_existing_output_survives_a_failed_apply(pair: tuple[Path, Path, bytes]) -> None:
    old, _new, patch = pair
    (old.parent / "out.img").write_bytes(b"keep me")
    with pytest.raises(DeltaCorrupt):
        _apply(old, patch[:-30])
    assert (old.parent / "out.img").read_bytes() == b"keep me"


def test_not_a_patch(tmp_path: Path) -> None:
    (tmp_path / "old.img").write_bytes(b"x")
    with pytest.raises(DeltaCorrupt) as caught:
        _apply(tmp_path / "old.img", b"PK\x03\x04" + bytes(200))
    assert caught.value.offset == 0


def test_make_refuses_wrong_digests(pair: tuple[Path, Path, bytes]) -> None:
    old, new, _patch = pair
    with pytest.raises(DeltaInputChanged) as caught:
        make_delta(old, new, io.BytesIO(), old_sha256="1" * 64)
    assert caught.value.which == "old"
    with pytest.raises(DeltaInputChanged) as caught:
        make_delta(old, new, io.BytesIO(), new_sha256="2" * 64)
    assert caught.value.which == "new"
