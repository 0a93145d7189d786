"""Committed images: lookup, the one promoter, quarantine, and last-use stamps."""

from __future__ import annotations

import os
import stat
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path

from client_fetch.cache.fsutil import fsync_dir, list_dir, remove_if_exists, touch, utc_stamp
from client_fetch.cache.layout import IMAGES, CacheLayout, is_digest
from client_fetch.cache.oserrors import cache_errors

READ_ONLY = 0o444


class ImageStore:
    """Files `images/<digest>`, their `access/<digest>` stamps and `quarantine/`.

    For: answering "is this digest committed, with this size?", committing a verified partial with
    one atomic rename (after fsync and chmod 0444), and moving bad images aside for inspection.
    A crash at any point leaves either the partial or the complete image, never a half image.

    Not responsible for: hashing (the fetcher's verifier checks the partial before `promote`, and
    `CacheVerifier` re-hashes on request), locking (callers hold the digest's single-flight lock
    around download + promote), or pins and quota.

    Error contract: invalid digests raise `InvalidDigest`; `promote` raises `ValueError` for a
    partial that is not `downloads/<digest>.partial` of this cache; file-system failures raise
    `CacheError`. Writing the last-use stamp is best effort and never fails a lookup (a cache hit
    must work on a full disk).
    """

    def __init__(self, layout: CacheLayout) -> None:
        self._layout = layout

    def lookup(self, digest: str, expected_size: int, *, touch: bool = True) -> Path | None:
        """The committed image, if present with the right size (a wrong size is quarantined).

        `touch=False` for looks that are not a use (planning), so LRU order is kept."""
        path = self._layout.image(digest)
        with cache_errors(self._layout.root, f"cannot look up {digest}"):
            try:
                info = os.stat(path, follow_symlinks=False)
            except FileNotFoundError:
                return None
            if not stat.S_ISREG(info.st_mode) or info.st_size != expected_size:
                self.quarantine(digest)
                return None
        if touch:
            self.touch_access(digest)
        return path

    def promote(self, digest: str, partial: Path) -> Path:
        expected = self._layout.partial(digest)
        if os.path.realpath(partial) != os.path.realpath(expected):
            raise ValueError(f"refusing to promote {partial} as {digest}: expected {expected}")
        target = self._layout.image(digest)
        with cache_errors(self._layout.root, f"cannot commit {digest}"):
            fd = os.open(expected, os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.fsync(fd)
                os.fchmod(fd, READ_ONLY)
            finally:
                os.close(fd)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(expected, target)
            fsync_dir(target.parent)
            fsync_dir(expected.parent)
        self.touch_access(digest)
        return target

    def quarantine(self, digest: str) -> Path | None:
        """Move the image aside to `quarantine/<digest>.<utc-stamp>`; None if it was gone."""
        target = self._layout.quarantine(digest, utc_stamp())
        with cache_errors(self._layout.root, f"cannot quarantine {digest}"):
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(self._layout.image(digest), target)
            except FileNotFoundError:
                return None
            fsync_dir(target.parent)
            remove_if_exists(self._layout.access(digest))
        return target

    def remove(self, digest: str) -> None:
        """Delete a committed image and its stamp (eviction; the caller holds the lock)."""
        with cache_errors(self._layout.root, f"cannot evict {digest}"):
            remove_if_exists(self._layout.image(digest))
            remove_if_exists(self._layout.access(digest))

    def touch_access(self, digest: str) -> None:
        with suppress(OSError):  # the stamp only orders eviction; a hit must not fail on it
            touch(self._layout.access(digest))

    def digests(self) -> list[str]:
        with cache_errors(self._layout.root, "cannot list images"):
            return sorted(d for d in list_dir(self._layout.dir(IMAGES)) if is_digest(d))

    def stat(self, digest: str) -> os.stat_result | None:
        with cache_errors(self._layout.root, f"cannot stat {digest}"):
            try:
                return os.stat(self._layout.image(digest), follow_symlinks=False)
            except FileNotFoundError:
                return None

    def last_used(self, digest: str, image: os.stat_result) -> datetime:
        """The access stamp's mtime, or the commit time when there is no stamp."""
        try:
            seconds = os.stat(self._layout.access(digest)).st_mtime
        except OSError:
            seconds = image.st_mtime
        return datetime.fromtimestamp(seconds, UTC)
