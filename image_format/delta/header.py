"""The fixed-size patch header: what a patch turns into what.

Layout (big-endian, 104 bytes): magic `VIDDELTA` (8) · format version u16 · flags u16 (0) ·
block size u32 · old size u64 · old sha256 (32 raw bytes) · new size u64 · new sha256 (32) ·
lane dictionary log u8 · 3 reserved zero bytes · crc32 of the preceding 100 bytes u32.

The block size is a power of two from `MIN_BLOCK_SIZE` to `MAX_BLOCK_SIZE` (what `make` can cut:
its reads are 1 MiB, a whole number of blocks); the lane window log is within
`MIN_DICT_LOG`..`MAX_DICT_LOG`.

Not responsible for the body (see `sections`). Error contract: `DeltaCorrupt` (offset 0 or the
short length) for a short, foreign or damaged header; `DeltaUnsupported` for another format
version, non-zero flags or reserved bytes (a feature this reader does not know), an unusable
block size or a lane window log out of range.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import BinaryIO

from image_format.delta.errors import DeltaCorrupt, DeltaUnsupported
from image_format.delta.lanes import MAX_DICT_LOG, MIN_DICT_LOG

MAGIC = b"VIDDELTA"
FORMAT_VERSION = 2
MIN_BLOCK_SIZE = 512
MAX_BLOCK_SIZE = 1 << 20
_BODY = struct.Struct(">8sHHIQ32sQ32sB3s")
_RESERVED = bytes(3)
_CRC = struct.Struct(">I")
HEADER_SIZE = _BODY.size + _CRC.size


def block_size_supported(block_size: int) -> bool:
    """True for the block sizes a patch may have: powers of two, 512 B … 1 MiB."""
    return MIN_BLOCK_SIZE <= block_size <= MAX_BLOCK_SIZE and block_size & (block_size - 1) == 0


@dataclass(frozen=True)
class DeltaHeader:
    """What a patch needs (old) and makes (new); digests are lowercase hex."""

    block_size: int
    old_size: int
    old_sha256: str
    new_size: int
    new_sha256: str
    window_log: int
    format_version: int = FORMAT_VERSION

    def pack(self) -> bytes:
        body = _BODY.pack(
            MAGIC,
            self.format_version,
            0,
            self.block_size,
            self.old_size,
            bytes.fromhex(self.old_sha256),
            self.new_size,
            bytes.fromhex(self.new_sha256),
            self.window_log,
            _RESERVED,
        )
        return body + _CRC.pack(zlib.crc32(body))

    @classmethod
    def unpack(cls, data: bytes) -> DeltaHeader:
        if len(data) < HEADER_SIZE:
            raise DeltaCorrupt(len(data), f"patch ends inside its {HEADER_SIZE}-byte header")
        body = data[: _BODY.size]
        magic, version, flags, block, old_size, old_sha, new_size, new_sha, wlog, reserved = (
            _BODY.unpack(body)
        )
        if magic != MAGIC:
            raise DeltaCorrupt(0, "not a delta patch (bad magic)")
        (crc,) = _CRC.unpack(data[_BODY.size : HEADER_SIZE])
        if crc != zlib.crc32(body):
            raise DeltaCorrupt(0, "header checksum mismatch")
        if version != FORMAT_VERSION:
            raise DeltaUnsupported("format version", version)
        if flags:
            raise DeltaUnsupported("flags", flags)
        if reserved != _RESERVED:
            raise DeltaUnsupported("reserved header bytes", int.from_bytes(reserved, "big"))
        if not block_size_supported(block):
            raise DeltaUnsupported("block size", block)
        if not MIN_DICT_LOG <= wlog <= MAX_DICT_LOG:
            raise DeltaUnsupported("lane window log", wlog)
        return cls(block, old_size, old_sha.hex(), new_size, new_sha.hex(), wlog, version)


def read_header(patch: BinaryIO) -> DeltaHeader:
    """Read and check the header at the patch's current position (leaves it after the header)."""
    data = patch.read(HEADER_SIZE)
    while 0 < len(data) < HEADER_SIZE:  # short reads from pipes and sockets
        more = patch.read(HEADER_SIZE - len(data))
        if not more:
            break
        data += more
    return DeltaHeader.unpack(data)
