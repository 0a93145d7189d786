"""`client-fetch seed`: volunteers give back, serving their cached images to the swarm for a while.

Opt-in and bounded: an upload cap (bytes/s), and it stops at the first of a time limit, every
image reaching an upload ratio, or SIGINT/SIGTERM. Each image is pinned while it is seeded (so the
cache's quota never deletes a file libtorrent is reading) and unpinned at the end, whatever ends it;
the pins are bound to this process (`cache.pins`), so a seeder killed outright leaves none.
Only images whose cached manifest still verifies with the trusted keys and names a torrent are
seeded; the torrent file must hash to that manifest's `torrent.sha256`. When the distributor's
tracker restarted (it keeps peers in memory), every image announces again at once
(`TrackerRestarts`).

Not responsible for fetching anything into the cache. Errors: `UsageError` for bad limits;
`CacheError` from the cache; swarm errors become `SourceUnavailable` for the torrent concerned,
which is skipped with a message.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import httpx

from client_fetch.cache import HostCache
from client_fetch.errors import SourceUnavailable
from client_fetch.tracker_restarts import TrackerRestarts
from client_fetch.verified_fetch import fetch_torrent
from image_format.envelope import PublicKey
from image_format.errors import ManifestError
from image_format.manifest import Manifest
from image_format.signing import verify_signed_manifest
from swarm.config import SwarmConfig
from swarm.errors import SwarmError

if TYPE_CHECKING:
    from swarm.torrent import SwarmTorrent

POLL_SECONDS = 0.5


@dataclass(frozen=True)
class SeedLimits:
    """When to stop: after `max_seconds`, or once each image uploaded `max_ratio` times its size."""

    max_seconds: float | None
    max_ratio: float | None


@dataclass
class SeededImage:
    """One image being seeded and what it uploaded."""

    ref: str
    digest: str
    size: int
    path: Path
    uploaded_bytes: int = 0
    peers: int = 0


@dataclass(frozen=True)
class SeedOutcome:
    images: list[SeededImage]
    skipped: list[str]
    seconds: float
    stopped_by: str


def seedable_images(
    cache: HostCache, keys: Sequence[PublicKey]
) -> tuple[list[tuple[Manifest, Path]], list[str]]:
    """Cached images with a verified manifest naming a torrent (one per digest)."""
    chosen: dict[str, tuple[Manifest, Path]] = {}
    skipped: list[str] = []
    for entry in cache.entries():
        for ref in entry.refs:
            name, _, version = ref.partition("@")
            cached = cache.lookup_ref(name, version, touch=False)
            if cached is None or entry.digest in chosen:
                continue
            try:
                manifest = verify_signed_manifest(cached.manifest_bytes, keys)
            except ManifestError as exc:
                skipped.append(f"{ref}: {exc}")
                continue
            if manifest.torrent is None:
                skipped.append(f"{ref}: no torrent")
                continue
            chosen[entry.digest] = (manifest, cached.path)
    return list(chosen.values()), skipped


class _StopFlag:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal_name = ""

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.signal_name = signal.Signals(signum).name
        self.event.set()


def seed(
    cache: HostCache,
    keys: Sequence[PublicKey],
    client: httpx.Client,
    servers: Sequence[str],
    config: SwarmConfig,
    limits: SeedLimits,
) -> SeedOutcome:
    from swarm.session import SwarmSession  # libtorrent loads only here

    started = time.monotonic()
    candidates, skipped = seedable_images(cache, keys)
    task = f"seed-{os.getpid()}"
    stop = _StopFlag()
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    seeded: list[tuple[SeededImage, SwarmTorrent]] = []
    try:
        with SwarmSession(config) as session:
            for manifest, _ in candidates:
                path = cache.claim(manifest.sha256, manifest.size, task, process_bound=True)
                if path is None or manifest.torrent is None:
                    skipped.append(f"{manifest.ref}: no longer cached")
                    continue
                try:
                    torrent = fetch_torrent(client, servers, manifest.torrent)
                    handle = session.add_seed(torrent, path, seed_mode=True)
                except (SourceUnavailable, SwarmError) as exc:
                    skipped.append(f"{manifest.ref}: {exc}")
                    continue
                image = SeededImage(manifest.ref, manifest.sha256, manifest.size, path)
                seeded.append((image, handle))
            restarts = TrackerRestarts(client, servers, session.reannounce_all)
            stopped_by = _wait(seeded, limits, stop, started, restarts)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        cache.unpin(task)
    images = [image for image, _ in seeded]
    return SeedOutcome(images, skipped, time.monotonic() - started, stopped_by)


def _wait(
    seeded: list[tuple[SeededImage, SwarmTorrent]],
    limits: SeedLimits,
    stop: _StopFlag,
    started: float,
    restarts: TrackerRestarts,
) -> str:
    if not seeded:
        return "nothing to seed"
    while True:
        for image, handle in seeded:
            status = handle.status()
            image.uploaded_bytes = status.uploaded_bytes
            image.peers = status.num_peers
        if stop.event.is_set():
            return stop.signal_name
        if limits.max_seconds is not None and time.monotonic() - started >= limits.max_seconds:
            return "time limit"
        if limits.max_ratio is not None and all(
            image.uploaded_bytes >= limits.max_ratio * image.size for image, _ in seeded
        ):
            return "ratio reached"
        restarts.tick()
        stop.event.wait(POLL_SECONDS)


def print_outcome(outcome: SeedOutcome) -> None:
    for image in outcome.images:
        print(
            f"seeded {image.ref} sha256:{image.digest[:12]}: uploaded {image.uploaded_bytes} "
            f"bytes ({image.uploaded_bytes / max(image.size, 1):.2f}x), {image.peers} peers"
        )
    for line in outcome.skipped:
        print(f"skipped {line}", file=sys.stderr)
    print(f"stopped after {outcome.seconds:.1f}s: {outcome.stopped_by}", file=sys.stderr)
