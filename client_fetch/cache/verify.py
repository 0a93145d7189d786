"""Re-hashing committed images on request, moving corrupt ones to quarantine."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from client_fetch.cache.images import ImageStore
from client_fetch.cache.layout import CacheLayout
from client_fetch.cache.locking import DigestLock
from client_fetch.cache.oserrors import cache_errors
from client_fetch.cache.records import VerifyResult
from image_format.digest import hash_file, validate_digest

LOCK_TIMEOUT_SECONDS = 60.0


class CacheVerifier:
    """`cache verify`: re-hash images with `image_format.digest.hash_file`.

    A mismatch is moved to `quarantine/` (never deleted silently) and reported as "corrupt"; a
    digest that is not committed is reported "missing". Hashing runs without the digest lock (so
    cache hits are not held up); the quarantine step takes the lock and first checks that the
    file is still the one that was hashed.

    Not responsible for: manifests or sizes (a digest that matches is the right content).
    Error contract: invalid digests raise `InvalidDigest`; read and rename failures, and a lock
    timeout, raise `CacheError`.
    """

    def __init__(self, layout: CacheLayout, images: ImageStore) -> None:
        self._layout = layout
        self._images = images

    def verify(
        self,
        digests: Iterable[str] | None = None,
        on_bytes: Callable[[int], None] | None = None,
    ) -> list[VerifyResult]:
        targets = self._images.digests() if digests is None else list(digests)
        return [self._verify_one(validate_digest(d), on_bytes) for d in targets]

    def _verify_one(self, digest: str, on_bytes: Callable[[int], None] | None) -> VerifyResult:
        first = self._hash(digest, on_bytes)
        if first is None:
            return VerifyResult(digest, "missing")
        hashed, actual = first
        if actual == digest:
            return VerifyResult(digest, "ok", actual)
        lock = DigestLock(self._layout, digest)
        lock.acquire(LOCK_TIMEOUT_SECONDS)
        try:
            now = self._images.stat(digest)
            if now is not None and _identity(now) != _identity(hashed):
                again = self._hash(digest, on_bytes)  # replaced while we hashed: hash it again
                now, actual = again if again is not None else (None, actual)
                if actual == digest:
                    return VerifyResult(digest, "ok", actual)
            if now is None:
                return VerifyResult(digest, "missing", actual)
            return VerifyResult(digest, "corrupt", actual, self._images.quarantine(digest))
        finally:
            lock.release()

    def _hash(
        self, digest: str, on_bytes: Callable[[int], None] | None
    ) -> tuple[os.stat_result, str] | None:
        """(stat of the file hashed, its digest), or None when no image is committed."""
        path = self._layout.image(digest)
        with cache_errors(self._layout.root, f"cannot read {digest}"):
            try:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                return None
            try:
                info = os.fstat(fd)
                actual, _ = hash_file(Path(f"/proc/self/fd/{fd}"), on_bytes=on_bytes)
            finally:
                os.close(fd)
        return info, actual


def _identity(info: os.stat_result) -> tuple[int, int, int, int]:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
