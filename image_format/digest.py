"""SHA-256 content digests: validation and streamed hashing of files and byte streams.

Digests are plain 64-character lowercase hex strings everywhere (URLs, manifests, cache paths).
Files are hashed in bounded blocks, never read whole.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from image_format.errors import InvalidDigest

HASH_BLOCK_BYTES = 1 << 20
_HEX64 = re.compile(r"[0-9a-f]{64}")


def validate_digest(value: str) -> str:
    """Return `value` if it is a sha256 hex digest, else raise `InvalidDigest`."""
    if not _HEX64.fullmatch(value):
        raise InvalidDigest(value)
    return value


def hash_file(
    path: Path,
    *,
    start: int = 0,
    on_bytes: Callable[[int], None] | None = None,
) -> tuple[str, int]:
    """Hash `path` from byte `start` to its end; return (hex digest, bytes hashed).

    `on_bytes` is called with each block's length (progress reporting). Raises OSError as is.
    """
    hasher = hashlib.sha256()
    buffer = bytearray(HASH_BLOCK_BYTES)
    view = memoryview(buffer)
    total = 0
    with path.open("rb", buffering=0) as handle:
        if start:
            handle.seek(start)
        while True:
            count = handle.readinto(buffer)
            if not count:
                break
            hasher.update(view[:count])
            total += count
            if on_bytes is not None:
                on_bytes(count)
    return hasher.hexdigest(), total


def hash_stream(blocks: Iterable[bytes]) -> tuple[str, int]:
    """Hash an iterable of byte blocks; return (hex digest, total bytes)."""
    hasher = hashlib.sha256()
    total = 0
    for block in blocks:
        hasher.update(block)
        total += len(block)
    return hasher.hexdigest(), total
