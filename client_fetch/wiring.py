"""The one place the fetcher is assembled from settings: keys, HTTP client, sources, cache.

Start-up cost matters (many hosts start a `get` at once): modules only some paths need are
imported where they are used (update sources with their chunk and delta formats, the tracker
scrape), and TLS is set up only when an https:// URL is first used.
Errors: `UsageError` for settings that cannot work (no server, no or bad key, unknown --via).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from client_fetch.backoff import Backoff
from client_fetch.cache import HostCache
from client_fetch.errors import UsageError
from client_fetch.fetcher import Fetcher, FetchPolicy
from client_fetch.manifest_client import ManifestClient
from client_fetch.planner import VIA_CHOICES, SourcePlanner
from client_fetch.progress import Progress
from client_fetch.rates import RateBook
from client_fetch.settings import ClientSettings
from client_fetch.sources.base import ImageSource
from client_fetch.sources.blob_ranges import BlobRangeReader
from client_fetch.sources.http_source import HttpSource
from client_fetch.sources.swarm_source import SwarmSource
from client_fetch.transports import plain_http_transport, tls_transport
from client_fetch.trust import TrustStore
from image_format.envelope import PublicKey, load_public_keys
from image_format.errors import KeyFormatError
from image_format.manifest import TorrentRef
from swarm.config import SwarmConfig

if TYPE_CHECKING:
    from client_fetch.tracker_scrape import SwarmCounts

TAIL_READ_TIMEOUT_SECONDS = 5.0
"""Connect and stall limits of a swarm's tail-fetch range read (at most `SwarmConfig`'s
`tail_fetch_bytes`, 1 MiB): the download loop waits on it, and a slow server should cost
seconds, not the full HTTP timeouts, before the swarm is left to deliver the piece."""

UPDATE_VIAS = ("auto", "delta", "chunks")
"""The `--via` choices under which a `get` may use an update source (delta, chunks)."""


def trusted_keys(settings: ClientSettings) -> list[PublicKey]:
    if not settings.key:
        raise UsageError(
            "no trusted key: pass --key 'ed25519:...' or a key file (CLIENT_FETCH_KEY)"
        )
    try:
        return load_public_keys(settings.key)
    except KeyFormatError as exc:
        raise UsageError(str(exc)) from exc


def open_cache(settings: ClientSettings) -> HostCache:
    return HostCache(Path(settings.cache_dir), quota_bytes=settings.cache_quota_bytes)


def http_client(settings: ClientSettings, trust: TrustStore | None = None) -> httpx.Client:
    """The fetcher's one httpx client; https verified against `trust` (default: the settings')."""
    trust = trust if trust is not None else TrustStore(settings.ca_file)
    timeout = httpx.Timeout(
        connect=settings.connect_timeout_seconds,
        read=settings.stall_timeout_seconds,
        write=settings.stall_timeout_seconds,
        pool=settings.connect_timeout_seconds,
    )
    return httpx.Client(
        timeout=timeout,
        follow_redirects=True,
        headers={"User-Agent": "client-fetch/0.1"},
        trust_env=False,
        # https:// (anything but http://): httpx's verifying transport, built on first use.
        transport=tls_transport(trust_env=False, context=trust.context),
        mounts={"http://": plain_http_transport(trust_env=False)},
    )


def rate_book(settings: ClientSettings) -> RateBook:
    http = settings.plan_http_rate_bytes_per_second
    defaults = {
        "http": http,
        "delta": http,
        "chunks": http,
        "swarm": settings.plan_swarm_rate_bytes_per_second,
    }
    return RateBook(Path(settings.cache_dir) / "rates.json", defaults)


def swarm_config(settings: ClientSettings, ca_file: str | None = None) -> SwarmConfig:
    """`ca_file`: the CA bundle the HTTP clients trust (`TrustStore.checked_path`), so https
    trackers and web seeds verify (`swarm.tls`); `get` leaves it None and names it as a swarm
    session starts (`SwarmSource`), so a fetch that never uses the swarm reads no bundle."""
    return SwarmConfig(
        ca_file=ca_file,
        ca_file_overrides_environment=True,
        listen_interfaces=settings.swarm_listen_interfaces,
        outgoing_interface=settings.swarm_outgoing_interface,
        upload_rate_limit_bytes_per_second=settings.swarm_upload_limit_bytes_per_second,
        download_rate_limit_bytes_per_second=settings.swarm_download_limit_bytes_per_second,
        connections_limit=settings.swarm_connections_limit,
        allow_multiple_connections_per_ip=settings.swarm_allow_multiple_connections_per_ip,
        rate_limit_local_peers=settings.swarm_rate_limit_local_peers,
        whole_pieces_threshold_seconds=settings.swarm_whole_pieces_threshold_seconds,
        tail_fetch_bytes=settings.swarm_tail_fetch_bytes,
    )


def http_sources(settings: ClientSettings, trust: TrustStore) -> list[HttpSource]:
    return [
        HttpSource(
            url,
            read_bytes=settings.http_read_bytes,
            connect_timeout_seconds=settings.connect_timeout_seconds,
            stall_timeout_seconds=settings.stall_timeout_seconds,
            tls_context=trust.context,
        )
        for url in settings.servers
    ]


def update_sources(
    settings: ClientSettings,
    client: httpx.Client,
    cache: HostCache,
    http: list[HttpSource],
    swarm: SwarmSource,
    swarm_size: Callable[[TorrentRef], SwarmCounts | None],
) -> list[ImageSource]:
    """Delta and chunks. Imported here: a `get --via http|swarm` never uses them."""
    from client_fetch.chunk_indexes import ChunkIndexes
    from client_fetch.sources.chunked_source import ChunkedSource
    from client_fetch.sources.delta_source import DeltaSource

    return [
        DeltaSource(
            cache, http, swarm, swarm_size, lock_timeout_seconds=settings.lock_timeout_seconds
        ),
        ChunkedSource(
            settings.servers,
            client,
            ChunkIndexes(cache, client, settings.servers),
            parallel_requests=settings.chunk_parallel_requests,
        ),
    ]


def planner_for(
    settings: ClientSettings,
    client: httpx.Client,
    cache: HostCache,
    via: str,
    *,
    every_estimate: bool = False,
    trust: TrustStore | None = None,
) -> SourcePlanner:
    """The planner for `--via via`. Update sources are built only when `via` may use them, or
    when `every_estimate` (`plan` lists why each source could not serve, whatever `--via`).
    Every source verifies https against `trust` (default: the settings' CA bundle)."""
    trust = trust if trust is not None else TrustStore(settings.ca_file)
    if via not in VIA_CHOICES:
        raise UsageError(f"--via {via} is not one of {', '.join(VIA_CHOICES)}")
    swarm = SwarmSource(
        settings.servers,
        client,
        swarm_config(settings),
        stall_timeout_seconds=settings.swarm_stall_timeout_seconds,
        resume_path=cache.resume_path,
        range_reader=partial(
            BlobRangeReader,
            settings.servers,
            connect_timeout_seconds=min(
                settings.connect_timeout_seconds, TAIL_READ_TIMEOUT_SECONDS
            ),
            stall_timeout_seconds=min(settings.stall_timeout_seconds, TAIL_READ_TIMEOUT_SECONDS),
            tls_context=trust.context,
        ),
        ca_file=trust.checked_path,
    )
    http = http_sources(settings, trust)

    def swarm_size(torrent: TorrentRef) -> SwarmCounts | None:
        from client_fetch.tracker_scrape import scrape  # `--via swarm|http` never scrapes

        return scrape(client, settings.servers, torrent)

    updates: list[ImageSource] = []
    if every_estimate or via in UPDATE_VIAS:
        updates = update_sources(settings, client, cache, http, swarm, swarm_size)
    return SourcePlanner(via, http, swarm, swarm_size, settings.swarm_min_peers, updates)


@contextmanager
def fetcher_for(
    settings: ClientSettings,
    via: str,
    *,
    show_progress: bool,
    every_estimate: bool = False,
    quiet: bool = False,
) -> Iterator[tuple[Fetcher, httpx.Client]]:
    if not settings.servers:
        raise UsageError("no server: pass --server URL (repeatable) or set CLIENT_FETCH_SERVERS")
    keys = trusted_keys(settings)
    backoff = Backoff(
        settings.backoff_initial_seconds, settings.backoff_max_seconds, rng=random.Random()
    )
    progress_file = settings.progress_file

    def progress(label: str, total: int) -> Progress:
        if show_progress:
            return Progress.for_terminal(label, total, progress_file)
        return Progress(label, total, progress_file=progress_file, quiet=quiet)

    cache = open_cache(settings)
    trust = TrustStore(settings.ca_file)
    if settings.ca_file is not None:
        # A configured bundle is read now: a bad one is exit 2 whichever source the plan picks
        # (the default, certifi's, stays unread until https or the swarm needs it).
        trust.context()
    with http_client(settings, trust) as client:
        fetcher = Fetcher(
            cache=cache,
            manifests=ManifestClient(
                client, settings.servers, keys, backoff, settings.retry_rounds
            ),
            planner=planner_for(
                settings, client, cache, via, every_estimate=every_estimate, trust=trust
            ),
            backoff=backoff,
            policy=FetchPolicy(
                rounds=settings.retry_rounds, lock_timeout_seconds=settings.lock_timeout_seconds
            ),
            progress_factory=progress,
        )
        yield fetcher, client
