"""The one place the fetcher is assembled from settings: keys, HTTP client, sources, cache."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from client_fetch.backoff import Backoff
from client_fetch.cache import HostCache
from client_fetch.errors import UsageError
from client_fetch.fetcher import Fetcher, FetchPolicy
from client_fetch.manifest_client import ManifestClient
from client_fetch.progress import Progress
from client_fetch.settings import ClientSettings
from client_fetch.sources.base import ImageSource
from client_fetch.sources.http_source import HttpSource
from image_format.envelope import PublicKey, load_public_keys
from image_format.errors import KeyFormatError


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


def http_client(settings: ClientSettings) -> httpx.Client:
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
    )


def build_sources(settings: ClientSettings, via: str) -> list[ImageSource]:
    """Sources in the order they are tried. `auto` and `http` are the same until the swarm lands."""
    if via not in ("auto", "http"):
        raise UsageError(f"--via {via} is not available")
    return [
        HttpSource(
            url,
            read_bytes=settings.http_read_bytes,
            connect_timeout_seconds=settings.connect_timeout_seconds,
            stall_timeout_seconds=settings.stall_timeout_seconds,
        )
        for url in settings.servers
    ]


@contextmanager
def fetcher_for(settings: ClientSettings, via: str, *, show_progress: bool) -> Iterator[Fetcher]:
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
        return Progress(label, total, progress_file=progress_file)

    with http_client(settings) as client:
        yield Fetcher(
            cache=open_cache(settings),
            manifests=ManifestClient(
                client, settings.servers, keys, backoff, settings.retry_rounds
            ),
            sources=build_sources(settings, via),
            backoff=backoff,
            policy=FetchPolicy(
                rounds=settings.retry_rounds, lock_timeout_seconds=settings.lock_timeout_seconds
            ),
            progress_factory=progress,
        )
