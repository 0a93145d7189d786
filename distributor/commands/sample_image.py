"""A generated sample image for the demo: deterministic, random-ish but compressible.

Per 64 KiB block: zeros (like an empty file system), repeated text, or pseudo-random bytes; and
an "updated" version of one, with a few blocks rewritten, to show what an update moves. Both are
written block by block (never held whole in memory); OSError passes through.
"""

from __future__ import annotations

import random
from pathlib import Path

BLOCK_BYTES = 64 << 10


def write_sample_image(path: Path, size_bytes: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    text = b"volunteer computing sample image: the quick brown fox jumps over the lazy dog\n"
    with path.open("wb") as handle:
        written = 0
        while written < size_bytes:
            count = min(BLOCK_BYTES, size_bytes - written)
            roll = rng.random()
            if roll < 0.5:
                block = bytes(count)
            elif roll < 0.8:
                block = (text * (count // len(text) + 1))[:count]
            else:
                block = rng.randbytes(count)
            handle.write(block)
            written += count


def write_updated_sample(base: Path, path: Path, *, every: int = 16, seed: int = 2) -> int:
    """Copy `base` to `path`, rewriting one 64 KiB block in `every` (chosen by `seed`) with new
    pseudo-random bytes; returns how many bytes changed."""
    rng = random.Random(seed)
    changed = 0
    with base.open("rb") as source, path.open("wb") as handle:
        while block := source.read(BLOCK_BYTES):
            if rng.randrange(every) == 0:
                block = rng.randbytes(len(block))
                changed += len(block)
            handle.write(block)
    return changed
