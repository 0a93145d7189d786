"""A compact hash index of the old image's blocks: 64-bit block hash → first old block number.

Open addressing in two `array`s (8 + 8 bytes per slot, at most half full): about 32 bytes per
indexed block, so a 5 GiB image with every block non-zero costs 42 MiB. The table is capped at
`MAX_ENTRIES` indexed blocks (256 MiB of table, 32 GiB of non-zero old data at 4 KiB blocks);
old blocks past the cap are not indexed (SAME and DELTA still reuse them), so
memory stays bounded whatever the image size. All-zero blocks are never indexed (ZERO is free).

Hashes are 8-byte BLAKE2b; a hit is only a candidate: `make` compares the bytes before using it.
Not responsible for reading files. No errors of its own.
"""

from __future__ import annotations

import hashlib
from array import array

MAX_ENTRIES = 1 << 23
_EMPTY = 0


def block_hash(block: bytes) -> int:
    """A non-zero 64-bit hash of a block."""
    return int.from_bytes(hashlib.blake2b(block, digest_size=8).digest(), "little") or 1


class BlockIndex:
    """Maps block hashes to the first old block number that had them."""

    def __init__(self, expected_blocks: int) -> None:
        wanted = max(16, 2 * min(max(expected_blocks, 1), MAX_ENTRIES))
        slots = 1 << (wanted - 1).bit_length()
        self._mask = slots - 1
        self._keys = array("Q", bytes(8 * slots))
        self._values = array("Q", bytes(8 * slots))
        self.entries = 0
        self.full = False

    def add(self, key: int, block_number: int) -> None:
        """Remember `block_number` for `key` unless the key is known or the table is full."""
        if self.entries >= MAX_ENTRIES or 2 * (self.entries + 1) > self._mask + 1:
            self.full = True
            return
        keys = self._keys
        slot = key & self._mask
        while True:
            found = keys[slot]
            if found == _EMPTY:
                keys[slot] = key
                self._values[slot] = block_number
                self.entries += 1
                return
            if found == key:
                return
            slot = (slot + 1) & self._mask

    def get(self, key: int) -> int | None:
        keys = self._keys
        slot = key & self._mask
        while True:
            found = keys[slot]
            if found == key:
                return self._values[slot]
            if found == _EMPTY:
                return None
            slot = (slot + 1) & self._mask
