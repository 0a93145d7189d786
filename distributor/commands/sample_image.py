"""A generated sample image for the demo: deterministic, random-ish but compressible.

Per 64 KiB block: zeros (like an empty file system), repeated text, or pseudo-random bytes.
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
