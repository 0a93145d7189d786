"""Chunking parameters: the block grid cut points sit on and the chunk size bounds.

Cut points are multiples of `BLOCK_SIZE` (4 KiB, the block size of the file systems VM images
hold), so a block that moves inside a rebuilt image keeps its chunk. The defaults were chosen by
measurement on a pair of 1 GiB ext4 images; see docs/chunking.md for the table.

Not responsible for chunking (`image_format.chunks.chunker`). Error contract: `ChunkParams`
raises `ChunkParamsError` for sizes that are not positive block multiples in order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from image_format.chunks.errors import ChunkParamsError

BLOCK_SIZE = 4096
KIB = 1024


@dataclass(frozen=True)
class ChunkParams:
    """Bounds of a data chunk, in bytes (block multiples): `min_size` ≤ size ≤ `max_size`, about
    `avg_size` on average. Only the last chunk of a file may be shorter than `min_size` (and not
    a block multiple). A run of at least `zero_min_size` zero bytes becomes zero chunks (a hole
    for the fetcher) of at most `max_size` each; shorter zero runs stay inside data chunks.

    `normalization` (FastCDC's idea): below `avg_size` a cut needs `normalization` more hash bits
    to match, above it fewer, which narrows the size distribution around `avg_size`.
    """

    min_size: int = 4 * KIB
    avg_size: int = 16 * KIB
    max_size: int = 64 * KIB
    zero_min_size: int = 4 * KIB
    normalization: int = 1

    def __post_init__(self) -> None:
        sizes = {
            "min_size": self.min_size,
            "avg_size": self.avg_size,
            "max_size": self.max_size,
            "zero_min_size": self.zero_min_size,
        }
        for what, value in sizes.items():
            if value <= 0 or value % BLOCK_SIZE:
                raise ChunkParamsError(f"{what}={value} is not a positive multiple of {BLOCK_SIZE}")
        if not self.min_size < self.avg_size < self.max_size:
            raise ChunkParamsError(
                f"need min_size < avg_size < max_size, got {self.min_size}, {self.avg_size}, "
                f"{self.max_size}"
            )
        if self.max_size >= 1 << 32:
            raise ChunkParamsError(f"max_size={self.max_size} must be below 4 GiB")
        if not 0 <= self.normalization <= 3 or self.normalization >= self.mask_bits:
            raise ChunkParamsError(f"normalization={self.normalization} is out of range")

    @property
    def mask_bits(self) -> int:
        """Bits of the block hash that must be zero for a cut (past `min_size`, unnormalized):
        the expected run of blocks after `min_size` is about `(avg - min) / BLOCK_SIZE`."""
        blocks = max(2, (self.avg_size - self.min_size) // BLOCK_SIZE)
        return max(1, round(math.log2(blocks)))

    @property
    def mask_before_avg(self) -> int:
        return (1 << (self.mask_bits + self.normalization)) - 1

    @property
    def mask_after_avg(self) -> int:
        return (1 << (self.mask_bits - self.normalization)) - 1


DEFAULT_PARAMS = ChunkParams()
