"""Helpers for the delta tests: make a patch in memory, apply it, and edit byte strings."""

from __future__ import annotations

import io
from pathlib import Path

from image_format.delta import DeltaStats, apply_delta, make_delta

TEST_BLOCK = 512
TEST_LEVEL = 3
TEST_WINDOW_LOG = 20


def make_patch(old: Path, new: Path, *, block_size: int = TEST_BLOCK) -> tuple[bytes, DeltaStats]:
    """A patch from `old` to `new` with small, fast settings."""
    out = io.BytesIO()
    stats = make_delta(
        old, new, out, block_size=block_size, level=TEST_LEVEL, window_log=TEST_WINDOW_LOG
    )
    return out.getvalue(), stats


def roundtrip(
    folder: Path, old_bytes: bytes, new_bytes: bytes, block_size: int = TEST_BLOCK
) -> bytes:
    """Write both images, make a patch, apply it; returns the rebuilt bytes."""
    old, new, out = folder / "old.img", folder / "new.img", folder / "out.img"
    old.write_bytes(old_bytes)
    new.write_bytes(new_bytes)
    patch, stats = make_patch(old, new, block_size=block_size)
    assert stats.patch_bytes == len(patch)
    header = apply_delta(old, io.BytesIO(patch), out)
    assert header.new_size == len(new_bytes)
    return out.read_bytes()


def leftovers(folder: Path) -> list[str]:
    """Files apply may have left behind (outputs or temp files)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith((".out", "out")))
