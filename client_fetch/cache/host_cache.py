"""The host cache's one entry point, shared by every task and process on a volunteer host."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from client_fetch.cache.fsutil import allocated_bytes, remove_if_exists
from client_fetch.cache.gc import DAY, GarbageCollector
from client_fetch.cache.images import ImageStore
from client_fetch.cache.layout import DOWNLOADS, CacheLayout
from client_fetch.cache.locking import DigestLock
from client_fetch.cache.manifests import ManifestRecords
from client_fetch.cache.oserrors import cache_errors
from client_fetch.cache.pins import PinStore
from client_fetch.cache.quota import QuotaEnforcer
from client_fetch.cache.records import (
    CachedRef,
    CacheEntry,
    GcReport,
    Pin,
    QuotaReport,
    VerifyResult,
)
from client_fetch.cache.verify import CacheVerifier

DEFAULT_LOCK_TIMEOUT_SECONDS = 30.0


class HostCache:
    """Content-addressed image cache under `root` (see `layout` for the files).

    For: the fetcher's cache hits (`lookup_ref` + `claim`), its single-flight commit protocol
    (`single_flight` → `lookup` → download into `partial_path` → verify → `promote` → `pin`,
    all under the lock), and the `cache ls / verify / gc` commands. Many processes use one root
    at once; kill -9 at any point leaves no image or a complete one.

    Not responsible for: downloading, hashing before commit (one verifier, in the fetcher), or
    signature checks on recorded manifests. Importing it loads only the standard library and
    `image_format.digest/names/errors` (a cache hit must stay fast: no pydantic, httpx, crypto).

    Error contract: unusable cache conditions (disk full, permissions, lock timeout) raise
    `client_fetch.errors.CacheError`; invalid digests, names, versions and task ids raise
    `image_format.errors.InvalidDigest` / `InvalidName` (ValueError) before touching disk;
    `record_manifest` raises `ManifestMalformed` / `ManifestMismatch` for bad envelopes.
    """

    def __init__(
        self,
        root: Path,
        *,
        quota_bytes: int | None = None,
        low_watermark_fraction: float = 0.9,
    ) -> None:
        if quota_bytes is not None and quota_bytes < 0:
            raise ValueError(f"quota_bytes must be >= 0, not {quota_bytes}")
        if not 0.0 < low_watermark_fraction <= 1.0:
            raise ValueError(
                f"low_watermark_fraction must be in (0, 1], not {low_watermark_fraction}"
            )
        self.root = Path(root)
        self.layout = CacheLayout(self.root)
        self._images = ImageStore(self.layout)
        self._pins = PinStore(self.layout)
        self._manifests = ManifestRecords(self.layout)
        self._quota = QuotaEnforcer(
            self.layout,
            self._images,
            self._pins,
            self._manifests,
            quota_bytes,
            low_watermark_fraction,
        )

    # -- lookups ---------------------------------------------------------------------------------

    def lookup(self, digest: str, expected_size: int) -> Path | None:
        """The committed image, or None; a wrong-sized one is quarantined. Touches last use."""
        return self._images.lookup(digest, expected_size)

    def lookup_ref(self, name: str, version: str, *, touch: bool = True) -> CachedRef | None:
        """`name@version` from its recorded manifest, if that image is committed (no pin).

        `touch=False`: a look that is not a use (planning, listing), LRU order unchanged."""
        recorded = self._manifests.read(name, version)
        if recorded is None:
            return None
        digest, size, envelope = recorded
        path = self._images.lookup(digest, size, touch=touch)
        if path is None:
            return None
        return CachedRef(name, version, digest, size, path, envelope)

    def claim(
        self,
        digest: str,
        expected_size: int,
        task: str,
        *,
        ttl_seconds: float | None = None,
        timeout_seconds: float = DEFAULT_LOCK_TIMEOUT_SECONDS,
        process_bound: bool = False,
    ) -> Path | None:
        """`lookup` then `pin` under the digest lock, so eviction cannot slip in between.

        `process_bound`: the pin lasts only while this process lives (unpin it through this
        object; see `pins`). Not for use inside `single_flight` of the same digest (the lock is
        not reentrant, even within one process): there, call `lookup` and `pin` directly.
        """
        with self.single_flight(digest, timeout_seconds):
            path = self._images.lookup(digest, expected_size)
            if path is not None:
                self._pins.pin(digest, task, ttl_seconds, process_bound=process_bound)
            return path

    def recorded_digest(self, name: str, version: str) -> str | None:
        """The digest `name@version`'s recorded manifest names, whether or not that image is
        still committed (quarantined, evicted); None without a readable record. No touch."""
        recorded = self._manifests.read(name, version)
        return None if recorded is None else recorded[0]

    def record_manifest(self, name: str, version: str, envelope_bytes: bytes) -> str:
        """Store the (already verified) envelope atomically; return the digest it names."""
        return self._manifests.record(name, version, envelope_bytes)

    # -- the commit protocol ---------------------------------------------------------------------

    @contextmanager
    def single_flight(
        self, digest: str, timeout_seconds: float = DEFAULT_LOCK_TIMEOUT_SECONDS
    ) -> Iterator[None]:
        """Hold the host-wide exclusive lock of `digest`; CacheError after `timeout_seconds`."""
        lock = DigestLock(self.layout, digest)
        lock.acquire(timeout_seconds)
        try:
            yield
        finally:
            lock.release()

    def partial_path(self, digest: str) -> Path:
        """`downloads/<digest>.partial` (its directory created); may hold a resumable prefix."""
        path = self.layout.partial(digest)
        with cache_errors(self.root, "cannot create downloads directory"):
            path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def resume_path(self, digest: str) -> Path:
        """`downloads/<digest>.resume`: resume state a source keeps beside the partial."""
        return self.layout.resume(digest)

    def discard_partial(self, digest: str) -> None:
        """Remove the partial download of `digest` and its resume state."""
        with cache_errors(self.root, f"cannot remove partial download of {digest}"):
            remove_if_exists(self.layout.partial(digest))
            remove_if_exists(self.layout.resume(digest))

    def promote(self, digest: str, partial: Path) -> Path:
        """Commit a verified partial (fsync, 0444, atomic rename, fsync dir); no hashing here.

        The partial's resume state is dropped with it."""
        committed = self._images.promote(digest, partial)
        with cache_errors(self.root, f"cannot remove resume state of {digest}"):
            remove_if_exists(self.layout.resume(digest))
        return committed

    # -- pins --------------------------------------------------------------------------------------

    def pin(
        self,
        digest: str,
        task: str,
        ttl_seconds: float | None = None,
        *,
        process_bound: bool = False,
    ) -> Pin:
        """Lease `digest` to `task` (see `pins` for process-bound pins); hold the digest's lock
        (`claim` does) so eviction cannot remove the image just before."""
        return self._pins.pin(digest, task, ttl_seconds, process_bound=process_bound)

    def unpin(self, task: str, digest: str | None = None) -> list[str]:
        """Drop `task`'s pin on `digest`, or all its pins; return the digests unpinned."""
        return self._pins.unpin(task, digest)

    def pins_of(self, digest: str) -> list[Pin]:
        """Pins that protect `digest`: unexpired, and not bound to a process that has ended."""
        return self._pins.pins_of(digest)

    # -- quota, listing, maintenance ---------------------------------------------------------------

    @property
    def quota_bytes(self) -> int | None:
        return self._quota.quota_bytes

    def usage_bytes(self) -> int:
        """Allocated bytes of images/ and downloads/ (st_blocks * 512: sparse holes are free)."""
        return self._quota.usage_bytes()

    def enforce_quota(
        self, keep: frozenset[str] | set[str] = frozenset(), reserve_bytes: int = 0
    ) -> QuotaReport:
        return self._quota.enforce(keep, reserve_bytes)

    def entries(self) -> list[CacheEntry]:
        refs = self._manifests.refs_by_digest()
        out = []
        for digest in self._images.digests():
            info = self._images.stat(digest)
            if info is None:
                continue
            out.append(
                CacheEntry(
                    digest=digest,
                    size=info.st_size,
                    allocated_bytes=allocated_bytes(info),
                    last_used=self._images.last_used(digest, info),
                    refs=[r.ref for r in refs.get(digest, []) if r.size == info.st_size],
                    pinned_by=[p.task for p in self._pins.pins_of(digest)],
                )
            )
        return out

    def partials(self) -> list[Path]:
        """Partial downloads present now (for `cache ls`)."""
        with cache_errors(self.root, "cannot list downloads"):
            folder = self.layout.dir(DOWNLOADS)
            return sorted(folder.glob("*.partial")) if folder.is_dir() else []

    def verify(
        self,
        digests: Iterable[str] | None = None,
        on_bytes: Callable[[int], None] | None = None,
    ) -> list[VerifyResult]:
        return CacheVerifier(self.layout, self._images).verify(digests, on_bytes)

    def gc(
        self,
        *,
        partial_max_age_seconds: float = DAY,
        tmp_max_age_seconds: float = 3600.0,
        quarantine_max_age_seconds: float = 7 * DAY,
    ) -> GcReport:
        collector = GarbageCollector(
            self.layout, self._images, self._pins, self._manifests, self._quota
        )
        return collector.collect(
            partial_max_age_seconds=partial_max_age_seconds,
            tmp_max_age_seconds=tmp_max_age_seconds,
            quarantine_max_age_seconds=quarantine_max_age_seconds,
        )
