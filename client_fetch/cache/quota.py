"""LRU eviction of committed images under a byte quota, with hysteresis."""

from __future__ import annotations

import os
from pathlib import Path

from client_fetch.cache.fsutil import allocated_bytes, list_dir
from client_fetch.cache.images import ImageStore
from client_fetch.cache.layout import DOWNLOADS, IMAGES, CacheLayout
from client_fetch.cache.locking import DigestLock
from client_fetch.cache.manifests import ManifestRecords
from client_fetch.cache.oserrors import cache_errors
from client_fetch.cache.pins import PinStore
from client_fetch.cache.records import EvictedEntry, QuotaReport


class QuotaEnforcer:
    """Keeps the cache's own bytes under `quota_bytes` by evicting least recently used images.

    Usage counts only files in `images/` and `downloads/`, in allocated bytes (st_blocks * 512),
    so a sparse image counts what it occupies on disk, not its apparent size; other users of the
    disk never cause evictions. Above the quota it evicts down to `low_watermark_fraction` of it
    (hysteresis: one eviction round makes room for several downloads).

    Never evicts: pinned images (unexpired pins not bound to a process that has ended, see
    `pins`; re-read under the digest lock), digests in `keep`, and digests whose single-flight
    lock someone holds (a download, claim or verify is under way). When only such images remain
    above the quota it stops and reports `exceeded`; that is not an error. Evicting an image
    also removes the manifest records naming it.

    Not responsible for: partial downloads (they count, but only gc removes stale ones) or
    quarantine/ (bounded by gc's age limit). Error contract: file-system failures raise
    `CacheError`.
    """

    def __init__(
        self,
        layout: CacheLayout,
        images: ImageStore,
        pins: PinStore,
        manifests: ManifestRecords,
        quota_bytes: int | None,
        low_watermark_fraction: float,
    ) -> None:
        self._layout = layout
        self._images = images
        self._pins = pins
        self._manifests = manifests
        self.quota_bytes = quota_bytes
        self.low_watermark_fraction = low_watermark_fraction

    def usage_bytes(self) -> int:
        """Allocated bytes of every file in images/ and downloads/."""
        total = 0
        with cache_errors(self._layout.root, "cannot measure cache usage"):
            for kind in (IMAGES, DOWNLOADS):
                folder = self._layout.dir(kind)
                for name in list_dir(folder):
                    total += _allocated(folder / name)
        return total

    def enforce(
        self, keep: frozenset[str] | set[str] = frozenset(), reserve_bytes: int = 0
    ) -> QuotaReport:
        """Evict if usage plus `reserve_bytes` (about to be written) exceeds the quota."""
        before = self.usage_bytes() + reserve_bytes
        quota = self.quota_bytes
        if quota is None or before <= quota:
            return QuotaReport(quota, before, before)
        target = int(quota * self.low_watermark_fraction)
        pinned = self._pins.pinned_digests()
        refs = self._manifests.refs_by_digest()
        current = before
        evicted: list[EvictedEntry] = []
        for digest in self._lru_order():
            if current <= target:
                break
            if digest in keep or digest in pinned:
                continue
            entry = self._evict(digest, [r.ref for r in refs.get(digest, [])])
            if entry is not None:
                for record in refs.get(digest, []):
                    self._manifests.remove(record)
                current -= entry.allocated_bytes
                evicted.append(entry)
        return QuotaReport(quota, before, current, evicted, exceeded=current > quota)

    def _lru_order(self) -> list[str]:
        stamped = []
        for digest in self._images.digests():
            info = self._images.stat(digest)
            if info is not None:
                stamped.append((self._images.last_used(digest, info), digest))
        return [digest for _, digest in sorted(stamped)]

    def _evict(self, digest: str, refs: list[str]) -> EvictedEntry | None:
        lock = DigestLock(self._layout, digest)
        if not lock.try_acquire():
            return None
        try:
            if self._pins.pins_of(digest):
                return None
            info = self._images.stat(digest)
            if info is None:
                return None
            entry = EvictedEntry(
                digest, allocated_bytes(info), self._images.last_used(digest, info), refs
            )
            self._images.remove(digest)
            with cache_errors(self._layout.root, f"cannot remove lock of {digest}"):
                lock.unlink_while_held()
            return entry
        finally:
            lock.release()


def _allocated(path: Path) -> int:
    try:
        return allocated_bytes(os.stat(path, follow_symlinks=False))
    except FileNotFoundError:
        return 0
