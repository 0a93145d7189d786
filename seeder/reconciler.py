"""`Reconciler`: make the swarm session seed exactly the versions the distributor lists, each
version's image and its patches."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from image_format.content_paths import blob_relpath
from image_format.manifest import Manifest
from seeder.catalog_client import CatalogClient, CatalogUnavailable
from seeder.pruner import UnlistedFilePruner
from seeder.seed_targets import SeedKey, SeedTarget, VersionKey, seed_targets
from seeder.settings import SeederSettings
from swarm.download import download_file
from swarm.errors import SwarmError
from swarm.session import SwarmSession
from swarm.torrent import SwarmTorrent

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 30.0
NO_TORRENT_RECHECK_SECONDS = 60.0
MANIFEST_REFRESH_SECONDS = 60.0


@dataclass
class Seeding:
    """One file this seeder serves: what it is, its torrent and the file it seeds from."""

    target: SeedTarget
    manifest: Manifest
    torrent: SwarmTorrent
    data_file: Path


class Reconciler:
    """Compares the distributor's listing with what the session seeds, and closes the gap.

    Each listed version's signed manifest names what to seed: the image's torrent and each
    patch's (`deltas[].torrent`), so that a release reaches many hosts through the swarm as
    patches too. A file already at `DATA/blobs/<blob_relpath>` with the right size (the
    distributor's own data dir, or a copy this seeder verified earlier) is seeded in place in seed
    mode (no full re-hash). Otherwise it is downloaded through the swarm (its web seeds make that
    work with no peers) on a background thread, its whole-file sha256 checked, moved into place
    and then seeded. Manifests are read again every `MANIFEST_REFRESH_SECONDS` (a version may be
    re-signed with references added later). What no listed version's manifest names any more
    stops being seeded; a seeder with storage of its own removes such a file it downloaded,
    later (`pruner`, given a round only when it knows every listed version's manifest).

    Not responsible for the poll loop, reports or signals (`seeder.daemon`). Error contract:
    `reconcile()` raises `CatalogUnavailable` when the listing cannot be read; problems with one
    version or file (refused manifest, failed download) are logged and retried later, never
    raised.
    """

    def __init__(
        self,
        settings: SeederSettings,
        client: CatalogClient,
        session: SwarmSession,
        pruner: UnlistedFilePruner | None = None,
    ) -> None:
        self._settings = settings
        self._client = client
        self._session = session
        self._pruner = pruner
        self._without_targets: dict[VersionKey, Manifest] = {}
        """Listed versions whose manifest names nothing to seed."""
        self._lock = threading.Lock()
        self._manifests: dict[VersionKey, tuple[Manifest, float]] = {}
        """Each listed version's manifest and when it was read."""
        self._seeding: dict[SeedKey, Seeding] = {}
        self._fetching: dict[SeedKey, Future[None]] = {}
        self._fetching_blobs: dict[str, set[SeedKey]] = {}  # blob sha256 → who fetches it
        self._retry_at: dict[VersionKey | SeedKey, float] = {}
        self._wanted: set[SeedKey] = set()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seeder-fetch")

    def seeding(self) -> list[Seeding]:
        with self._lock:
            return list(self._seeding.values())

    def reconcile(self) -> None:
        try:
            listed = set(self._client.versions())
        except CatalogUnavailable:
            if self._pruner is not None:
                self._pruner.reset()  # a count runs only through rounds that saw the listing
            raise
        for version in [v for v in self._manifests if v not in listed]:
            del self._manifests[version]
        for version in [v for v in self._without_targets if v not in listed]:
            del self._without_targets[version]
        now = time.monotonic()
        for version in sorted(listed):
            if self._manifest_due(version, now):
                self._read_manifest(version, now)
        wanted = {
            target.key: (target, manifest)
            for manifest, _ in self._manifests.values()
            for target in seed_targets(manifest)
        }
        self._wanted = set(wanted)  # a download of anything else stops (`should_stop`)
        with self._lock:
            gone = [key for key in self._seeding if key not in wanted]
            failed = [(k, s) for k, s in self._seeding.items() if k in wanted]
        for key in gone:
            self._drop(key)
        for key, seeding in failed:
            error = seeding.torrent.error
            if error:  # e.g. the file could not be read when a peer asked: libtorrent paused it
                log.warning("seeding %s failed, will retry: %s", seeding.target.label, error)
                self._drop(key, "failed")
                self._retry_at[key] = now + RETRY_AFTER_SECONDS
        for target, manifest in wanted.values():
            self._consider(target, manifest, now)
        if self._pruner is not None:
            self._prune(self._pruner, listed)

    def _prune(self, pruner: UnlistedFilePruner, listed: set[VersionKey]) -> None:
        """Let the pruner remove what no listed version names, in a round that knows every
        listed version's manifest (any other round resets its counts)."""
        known = [self._known_manifest(version) for version in listed]
        manifests = [manifest for manifest in known if manifest is not None]
        if not listed or len(manifests) < len(listed):
            pruner.reset()
            return
        named = {m.sha256 for m in manifests} | {d.sha256 for m in manifests for d in m.deltas}
        with self._lock:
            named |= set(self._fetching_blobs) | {s.target.sha256 for s in self._seeding.values()}
        pruner.prune(named)

    def _known_manifest(self, version: VersionKey) -> Manifest | None:
        if version in self._manifests:
            return self._manifests[version][0]
        return self._without_targets.get(version)

    def close(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _manifest_due(self, version: VersionKey, now: float) -> bool:
        known = self._manifests.get(version)
        if known is not None:
            return now - known[1] >= MANIFEST_REFRESH_SECONDS
        return self._retry_at.get(version, 0.0) <= now

    def _read_manifest(self, version: VersionKey, now: float) -> None:
        """(Re-)read the version's manifest: a version may be re-signed with torrent or patch
        references added later. A failed re-read keeps the manifest read before."""
        try:
            manifest = self._client.manifest(*version)
        except CatalogUnavailable as exc:
            log.warning("cannot seed %s@%s yet: %s", *version, exc)
            self._retry_at[version] = now + RETRY_AFTER_SECONDS
            if version in self._manifests:
                self._manifests[version] = (self._manifests[version][0], now)
            return
        if seed_targets(manifest):
            self._manifests[version] = (manifest, now)
            self._without_targets.pop(version, None)
        else:
            self._without_targets[version] = manifest
            self._retry_at[version] = now + NO_TORRENT_RECHECK_SECONDS

    def _consider(self, target: SeedTarget, manifest: Manifest, now: float) -> None:
        key = target.key
        with self._lock:
            # The same blob under another version or patch: one download, then both seed it.
            busy = key in self._seeding or target.sha256 in self._fetching_blobs
        if busy or self._retry_at.get(key, 0.0) > now:
            return
        try:
            self._start(target, manifest)
        except (CatalogUnavailable, SwarmError, OSError) as exc:
            log.warning("cannot seed %s yet: %s", target.label, exc)
            self._retry_at[key] = now + RETRY_AFTER_SECONDS

    def _start(self, target: SeedTarget, manifest: Manifest) -> None:
        torrent = self._client.torrent(target.torrent_sha256)
        blob = self._settings.blob_root / blob_relpath(target.sha256)
        if _has_size(blob, target.size):
            self._seed(target, manifest, torrent, blob)
            return
        with self._lock:
            self._fetching_blobs.setdefault(target.sha256, set()).add(target.key)
            self._fetching[target.key] = self._pool.submit(
                self._fetch, target, manifest, torrent, blob
            )

    def _seed(self, target: SeedTarget, manifest: Manifest, torrent: bytes, blob: Path) -> None:
        handle = self._session.add_seed(torrent, blob, seed_mode=True)
        with self._lock:
            self._seeding[target.key] = Seeding(target, manifest, handle, blob)
        log.info("seeding %s from %s", target.label, blob)

    def _fetch(self, target: SeedTarget, manifest: Manifest, torrent: bytes, blob: Path) -> None:
        work = self._settings.work_dir
        partial = work / f"{target.sha256}.partial"
        resume = work / f"{target.sha256}.resume"
        try:
            work.mkdir(parents=True, exist_ok=True)
            log.info("downloading %s through the swarm", target.label)
            download_file(
                self._session,
                torrent,
                partial,
                stall_timeout_seconds=self._settings.stall_timeout_seconds,
                resume_file=resume,
                should_stop=lambda: self._stop.is_set() or target.key not in self._wanted,
            )
            actual = _sha256(partial)
            if actual != target.sha256:
                partial.unlink(missing_ok=True)
                resume.unlink(missing_ok=True)
                raise SwarmError(f"downloaded content has sha256 {actual}, not {target.sha256}")
            blob.parent.mkdir(parents=True, exist_ok=True)
            os.replace(partial, blob)
            if self._pruner is not None:  # one of the files it may remove, later
                self._pruner.record_download(target.sha256)
            resume.unlink(missing_ok=True)
            if not self._stop.is_set() and target.key in self._wanted:
                self._seed(target, manifest, torrent, blob)
        except (SwarmError, OSError) as exc:
            if target.key not in self._wanted:
                log.info("stopped downloading %s (no longer listed)", target.label)
            elif not self._stop.is_set():
                log.warning("download of %s failed, will retry: %s", target.label, exc)
            self._retry_at[target.key] = time.monotonic() + RETRY_AFTER_SECONDS
        finally:
            with self._lock:
                self._fetching.pop(target.key, None)
                fetchers = self._fetching_blobs.get(target.sha256, set())
                fetchers.discard(target.key)
                if not fetchers:
                    self._fetching_blobs.pop(target.sha256, None)

    def _drop(self, key: SeedKey, why: str = "no longer listed") -> None:
        with self._lock:
            seeding = self._seeding.pop(key, None)
        if seeding is not None:
            self._session.remove(seeding.torrent)
            log.info("stopped seeding %s (%s)", seeding.target.label, why)


def _has_size(path: Path, size: int) -> bool:
    try:
        return path.is_file() and path.stat().st_size == size
    except OSError:
        return False


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
