"""Telling the distributor how one `get` went, for the admins' swarm health.

Best effort: one short POST to the first server, errors ignored (a host must never fail a task
because the report could not be sent). Not responsible for what the distributor does with it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import httpx

from client_fetch.fetch_result import FetchResult
from client_fetch.sources.base import is_local_origin
from client_fetch.sources.swarm_source import PEERS, WEB_SEEDS
from image_format.content_paths import fetch_report_path
from image_format.swarm_reports import FetchReport


def report_from_result(result: FetchResult, servers: Sequence[str]) -> FetchReport:
    """Classify `bytes_by_source`: peers, the origin (first server, web seeds), other mirrors.

    Bytes read on this host (`local:...`, donor images) moved over no network: not counted."""
    origin = servers[0] if servers else None
    peers = result.bytes_by_source.get(PEERS, 0)
    from_origin = result.bytes_by_source.get(WEB_SEEDS, 0) + (
        result.bytes_by_source.get(origin, 0) if origin else 0
    )
    mirrors = sum(
        count
        for source, count in result.bytes_by_source.items()
        if source not in (PEERS, WEB_SEEDS, origin) and not is_local_origin(source)
    )
    return FetchReport(
        name=result.name,
        version=result.version,
        method=result.method,  # type: ignore[arg-type]
        outcome="ok",
        bytes_from_peers=peers,
        bytes_from_origin=from_origin,
        bytes_from_mirrors=mirrors,
        hash_failures=result.hash_failures,
        seconds=result.seconds,
    )


def send_report(client: httpx.Client, servers: Sequence[str], report: FetchReport) -> None:
    if not servers:
        return
    with contextlib.suppress(httpx.HTTPError):
        client.post(
            servers[0] + fetch_report_path(),
            content=report.model_dump_json(),
            headers={"Content-Type": "application/json"},
            timeout=2.0,
        )
