"""`run_seeder`: the seeder's main loop (poll, reconcile, report) until SIGTERM/SIGINT."""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType

import certifi

from image_format.envelope import load_public_keys
from seeder.catalog_client import CatalogClient, CatalogUnavailable
from seeder.outage_log import OutageLog
from seeder.pruner import UnlistedFilePruner
from seeder.reconciler import Reconciler
from seeder.reporter import Reporter
from seeder.settings import SeederSettings
from swarm.config import SwarmConfig
from swarm.session import SwarmSession
from swarm.tracker_watch import TrackerMemoryWatch

log = logging.getLogger(__name__)


# How many block requests the seeder queues per peer (`SeederSettings.max_requests_per_peer`,
# libtorrent's max_allowed_in_request_queue, default 2000; it rejects the rest and the peer asks
# someone else). Fewer pieces in flight from the origin means fewer pieces two peers fetch from it
# at once. Measured (bench.swarm, N=8, 100 Mbit, 256 MiB, clients asking for the rarest blocks):
# 48 → 1.12-1.14·S from the origin, 1.32-1.35x the bound; 16 → 1.08-1.09·S, 1.28-1.29x;
# 8 → 1.05-1.06·S, 1.25-1.26x; 4 → 1.05·S, 1.25x (later, with pieces checked as they arrive and
# an image without zero blocks: 8 → 1.05-1.06·S, 1.19x; 4 → 1.04-1.05·S, 1.17x; 16 → 1.07·S,
# 1.20x). On loopback-like paths 8 is plenty; over long paths the queue bounds the rate (see the
# setting), so 8 stays the default rather than 4.


def swarm_config(settings: SeederSettings) -> SwarmConfig:
    """libtorrent trusts what the catalog client (httpx) trusts, or https announces fail."""
    return SwarmConfig(
        ca_file=certifi.where(),
        listen_interfaces=settings.listen_interfaces,
        listen_port_retries=0,
        upload_rate_limit_bytes_per_second=settings.upload_rate_limit_bytes_per_second,
        connections_limit=settings.connections_limit,
        allow_multiple_connections_per_ip=settings.allow_multiple_connections_per_ip,
        rate_limit_local_peers=settings.rate_limit_local_peers,
        announce_ip=_specific_host(settings.listen_interfaces),
        max_requests_per_peer=settings.max_requests_per_peer,
        unchoke_slots_limit=settings.unchoke_slots,
        tick_interval_milliseconds=settings.tick_interval_milliseconds,
    )


def _specific_host(listen_interfaces: str) -> str | None:
    """The one address we listen on, or None for wildcards and several interfaces."""
    parts = [p.strip() for p in listen_interfaces.split(",") if p.strip()]
    if len(parts) != 1:
        return None
    host = parts[0].rpartition(":")[0].strip("[]")
    return None if host in ("", "0.0.0.0", "::") else host


def listen_address(listen_interfaces: str, port: int) -> str:
    """The report's "HOST:PORT": the first listen interface's host with the bound port."""
    first = listen_interfaces.split(",")[0].strip()
    host = first.rpartition(":")[0] or "0.0.0.0"
    return f"{host}:{port}"


def run_seeder(settings: SeederSettings, stop: threading.Event | None = None) -> int:
    """Seed until `stop` is set or a SIGTERM/SIGINT arrives (main thread only); returns 0.

    Raises `KeyFormatError` for a bad `key` and `SwarmError` when it cannot listen.
    """
    stop = stop or threading.Event()
    keys = load_public_keys(settings.key)
    _install_signal_handlers(stop)
    settings.blob_root.mkdir(parents=True, exist_ok=True)
    client = CatalogClient(settings.distributor_url, keys, settings.http_timeout_seconds)
    session = SwarmSession(swarm_config(settings))
    pruner = UnlistedFilePruner.for_settings(settings)
    reconciler = Reconciler(settings, client, session, pruner=pruner)
    reporter = Reporter(
        settings.distributor_url,
        settings.seeder_id,
        settings.distributor_token.get_secret_value(),
        reconciler,
        settings.http_timeout_seconds,
    )
    address = listen_address(settings.listen_interfaces, session.listen_port)
    log.info("seeder %s listening on %s", settings.seeder_id, address)
    next_report = time.monotonic()
    catalog_outage = OutageLog(log, f"the catalog at {settings.distributor_url}")
    tracker = TrackerMemoryWatch(session.reannounce_all)
    try:
        while not stop.is_set():
            try:
                reconciler.reconcile()
                if catalog_outage.succeeded():
                    tracker.after_outage()
            except CatalogUnavailable as exc:
                catalog_outage.failed(exc)
            if time.monotonic() >= next_report:
                tracker.after_report(reporter.report(address), reporter.tracker_instance)
                next_report = time.monotonic() + settings.report_seconds
            stop.wait(settings.poll_seconds)
    finally:
        log.info("seeder %s stopping", settings.seeder_id)
        reconciler.close()
        session.close()
        client.close()
    return 0


def _install_signal_handlers(stop: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
