"""`Reconciler`: make the swarm session seed exactly the versions the distributor lists."""

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
from seeder.settings import SeederSettings
from swarm.download import download_file
from swarm.errors import SwarmError
from swarm.session import SwarmSession
from swarm.torrent import SwarmTorrent

log = logging.getLogger(__name__)

VersionKey = tuple[str, str]
RETRY_AFTER_SECONDS = 30.0
NO_TORRENT_RECHECK_SECONDS = 60.0


@dataclass
class Seeding:
    """One version this seeder serves: its manifest, torrent and the file it seeds from."""

    manifest: Manifest
    torrent: SwarmTorrent
    data_file: Path


class Reconciler:
    """Compares the distributor's listing with what the session seeds, and closes the gap.

    A version whose blob is already at `DATA/blobs/<blob_relpath>` with the right size (the
    distributor's own data dir, or a copy this seeder verified earlier) is seeded in place in seed
    mode (no full re-hash). Otherwise the version is downloaded through the swarm (its web seeds
    make that work with no peers) on a background thread, its whole-file sha256 checked, moved
    into place and then seeded. Versions no longer listed stop being seeded (files are kept).

    Not responsible for the poll loop, reports or signals (`seeder.daemon`). Error contract:
    `reconcile()` raises `CatalogUnavailable` when the listing cannot be read; problems with one
    version (refused manifest, failed download) are logged and retried later, never raised.
    """

    def __init__(
        self, settings: SeederSettings, client: CatalogClient, session: SwarmSession
    ) -> None:
        self._settings = settings
        self._client = client
        self._session = session
        self._lock = threading.Lock()
        self._seeding: dict[VersionKey, Seeding] = {}
        self._fetching: dict[VersionKey, Future[None]] = {}
        self._retry_at: dict[VersionKey, float] = {}
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seeder-fetch")

    def seeding(self) -> list[tuple[VersionKey, Seeding]]:
        with self._lock:
            return list(self._seeding.items())

    def reconcile(self) -> None:
        listed = set(self._client.versions())
        with self._lock:
            gone = [key for key in self._seeding if key not in listed]
        for key in gone:
            self._drop(key)
        now = time.monotonic()
        for key in sorted(listed):
            with self._lock:
                busy = key in self._seeding or key in self._fetching
            if busy or self._retry_at.get(key, 0.0) > now:
                continue
            try:
                self._start(key)
            except (CatalogUnavailable, SwarmError, OSError) as exc:
                log.warning("cannot seed %s@%s yet: %s", *key, exc)
                self._retry_at[key] = now + RETRY_AFTER_SECONDS

    def close(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _start(self, key: VersionKey) -> None:
        manifest = self._client.manifest(*key)
        if manifest.torrent is None:
            self._retry_at[key] = time.monotonic() + NO_TORRENT_RECHECK_SECONDS
            return
        torrent = self._client.torrent(manifest.torrent.sha256)
        blob = self._settings.blob_root / blob_relpath(manifest.sha256)
        if _has_size(blob, manifest.size):
            self._seed(key, manifest, torrent, blob)
            return
        with self._lock:
            self._fetching[key] = self._pool.submit(self._fetch, key, manifest, torrent, blob)

    def _seed(self, key: VersionKey, manifest: Manifest, torrent: bytes, blob: Path) -> None:
        handle = self._session.add_seed(torrent, blob, seed_mode=True)
        with self._lock:
            self._seeding[key] = Seeding(manifest, handle, blob)
        log.info("seeding %s@%s from %s", *key, blob)

    def _fetch(self, key: VersionKey, manifest: Manifest, torrent: bytes, blob: Path) -> None:
        work = self._settings.work_dir
        partial = work / f"{manifest.sha256}.partial"
        resume = work / f"{manifest.sha256}.resume"
        try:
            work.mkdir(parents=True, exist_ok=True)
            log.info("downloading %s@%s through the swarm", *key)
            download_file(
                self._session,
                torrent,
                partial,
                stall_timeout_seconds=self._settings.stall_timeout_seconds,
                resume_file=resume,
                should_stop=self._stop.is_set,
            )
            actual = _sha256(partial)
            if actual != manifest.sha256:
                partial.unlink(missing_ok=True)
                resume.unlink(missing_ok=True)
                raise SwarmError(f"downloaded content has sha256 {actual}, not {manifest.sha256}")
            blob.parent.mkdir(parents=True, exist_ok=True)
            os.replace(partial, blob)
            resume.unlink(missing_ok=True)
            if not self._stop.is_set():
                self._seed(key, manifest, torrent, blob)
        except (SwarmError, OSError) as exc:
            if not self._stop.is_set():
                log.warning("download of %s@%s failed, will retry: %s", *key, exc)
            self._retry_at[key] = time.monotonic() + RETRY_AFTER_SECONDS
        finally:
            with self._lock:
                self._fetching.pop(key, None)

    def _drop(self, key: VersionKey) -> None:
        with self._lock:
            seeding = self._seeding.pop(key, None)
        if seeding is not None:
            self._session.remove(seeding.torrent)
            log.info("stopped seeding %s@%s (no longer listed)", *key)


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
