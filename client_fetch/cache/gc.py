"""`cache gc`: remove what crashes, expiries and evictions left behind, then enforce the quota."""

from __future__ import annotations

import os
import time
from pathlib import Path

from client_fetch.cache.fsutil import list_dir, remove_empty_dir, remove_if_exists
from client_fetch.cache.images import ImageStore
from client_fetch.cache.layout import (
    ACCESS,
    ALL_DIRS,
    DELTA_TMP_SUFFIX,
    DOWNLOADS,
    LOCK_SUFFIX,
    LOCKS,
    MANIFESTS,
    PARTIAL_SUFFIX,
    PINS,
    QUARANTINE,
    TMP_PREFIX,
    CacheLayout,
    digest_with_suffix,
    is_digest,
)
from client_fetch.cache.locking import DigestLock
from client_fetch.cache.manifests import ManifestRecords
from client_fetch.cache.oserrors import cache_errors
from client_fetch.cache.pins import PinStore
from client_fetch.cache.quota import QuotaEnforcer
from client_fetch.cache.records import GcReport

DAY = 86400.0


class GarbageCollector:
    """Removes stale pins (expired, or bound to a process that has ended), stale partials, stale
    `.tmp-*` files, manifest records of absent images nothing pins, stray access stamps and idle
    lock files, empty directories, and quarantined files older than
    `quarantine_max_age_seconds`; then runs the quota enforcement.

    A partial is stale when nobody holds its digest lock and it was last written more than
    `partial_max_age_seconds` ago (younger ones are kept so an interrupted download resumes).
    Temporary files only live for one small atomic write, so an hour-old one is a crash's leftover.
    Everything removed is listed in the report; nothing under `images/` is touched except by the
    quota enforcement.

    Not responsible for: verifying content (`CacheVerifier`). Error contract: file-system
    failures raise `CacheError`.
    """

    def __init__(
        self,
        layout: CacheLayout,
        images: ImageStore,
        pins: PinStore,
        manifests: ManifestRecords,
        quota: QuotaEnforcer,
    ) -> None:
        self._layout = layout
        self._images = images
        self._pins = pins
        self._manifests = manifests
        self._quota = quota

    def collect(
        self,
        *,
        partial_max_age_seconds: float = DAY,
        tmp_max_age_seconds: float = 3600.0,
        quarantine_max_age_seconds: float = 7 * DAY,
    ) -> GcReport:
        now = time.time()
        report = GcReport(expired_pins=self._pins.remove_stale())
        with cache_errors(self._layout.root, "garbage collection failed"):
            self._stale_partials(now - partial_max_age_seconds, report)
            self._stale_tmp_files(now - tmp_max_age_seconds, report)
            self._orphan_manifests(report)
            self._old_quarantine(now - quarantine_max_age_seconds, report)
            self._stray_stamps_and_locks(report)
        report.quota = self._quota.enforce()
        return report

    def _stale_partials(self, cutoff: float, report: GcReport) -> None:
        folder = self._layout.dir(DOWNLOADS)
        for filename in list_dir(folder):
            digest = digest_with_suffix(filename, PARTIAL_SUFFIX)
            if digest is None or _mtime(folder / filename) > cutoff:
                continue
            lock = DigestLock(self._layout, digest)
            if not lock.try_acquire():
                continue  # a download is using it
            try:
                if _mtime(folder / filename) <= cutoff and remove_if_exists(folder / filename):
                    remove_if_exists(self._layout.resume(digest))
                    report.stale_partials.append(digest)
            finally:
                lock.release()

    def _stale_tmp_files(self, cutoff: float, report: GcReport) -> None:
        for folder in _folders_with_tmp_files(self._layout):
            for filename in list_dir(folder):
                path = folder / filename
                temporary = filename.startswith(TMP_PREFIX) or filename.endswith(DELTA_TMP_SUFFIX)
                stale = temporary and _mtime(path) <= cutoff
                if stale and remove_if_exists(path):
                    report.stale_tmp_files.append(str(path.relative_to(self._layout.root)))

    def _orphan_manifests(self, report: GcReport) -> None:
        pinned = self._pins.pinned_digests()
        for record in self._manifests.all():
            digest = record.digest
            # A record written before its download finished is not an orphan yet; nor is one
            # whose digest is still pinned: `unpin TASK NAME@VERSION` finds the digest through
            # it after the image was quarantined.
            orphan = digest is None or (
                self._images.stat(digest) is None
                and not self._layout.partial(digest).exists()
                and digest not in pinned
            )
            if orphan and self._manifests.remove(record):
                report.orphan_manifests.append(record.ref)
        for name in list_dir(self._layout.dir(MANIFESTS)):
            remove_empty_dir(self._layout.dir(MANIFESTS) / name)

    def _old_quarantine(self, cutoff: float, report: GcReport) -> None:
        folder = self._layout.dir(QUARANTINE)
        for filename in list_dir(folder):
            path = folder / filename
            # a rename keeps the image's mtime; ctime says when it was quarantined
            if _ctime(path) <= cutoff and remove_if_exists(path):
                report.old_quarantine.append(filename)

    def _stray_stamps_and_locks(self, report: GcReport) -> None:
        committed = set(self._images.digests())
        access = self._layout.dir(ACCESS)
        for digest in list_dir(access):
            if is_digest(digest) and digest not in committed:
                report.removed_other += remove_if_exists(access / digest)
        for filename in list_dir(self._layout.dir(LOCKS)):
            locked = digest_with_suffix(filename, LOCK_SUFFIX)
            if locked is None or self._layout.partial(locked).exists():
                continue
            lock = DigestLock(self._layout, locked)
            if lock.try_acquire():
                try:
                    lock.unlink_while_held()
                    report.removed_other += 1
                finally:
                    lock.release()
        for digest in list_dir(self._layout.dir(PINS)):
            report.removed_other += remove_empty_dir(self._layout.dir(PINS) / digest)


def _folders_with_tmp_files(layout: CacheLayout) -> list[Path]:
    folders = [layout.dir(kind) for kind in ALL_DIRS]
    for kind in (MANIFESTS, PINS):
        top = layout.dir(kind)
        folders += [top / name for name in list_dir(top) if (top / name).is_dir()]
    return folders


def _mtime(path: Path) -> float:
    try:
        return os.stat(path, follow_symlinks=False).st_mtime
    except FileNotFoundError:
        return float("inf")


def _ctime(path: Path) -> float:
    try:
        return os.stat(path, follow_symlinks=False).st_ctime
    except FileNotFoundError:
        return float("inf")
