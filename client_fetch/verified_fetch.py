"""Small content-addressed documents (torrents, chunk indexes) from the first server that has them.

A server or mirror can only fail here, never substitute a document: the bytes must hash to the
digest the signed manifest names. Errors: `SourceUnavailable` (source = what was asked for) when
no server has a matching copy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import httpx

from client_fetch.errors import SourceUnavailable
from image_format.content_paths import torrent_path
from image_format.manifest import TorrentRef

MAX_TORRENT_BYTES = 16 << 20


def fetch_verified(
    client: httpx.Client,
    servers: Sequence[str],
    path: str,
    sha256: str,
    *,
    max_bytes: int,
    what: str,
) -> bytes:
    """GET `path` from each server in turn; return the first body hashing to `sha256`."""
    problems: list[str] = []
    for server in servers:
        try:
            response = client.get(server + path)
        except httpx.HTTPError as exc:
            problems.append(f"{server}: {exc!r}")
            continue
        data = response.content
        if response.status_code != 200:
            problems.append(f"{server}: HTTP {response.status_code}")
        elif len(data) > max_bytes or hashlib.sha256(data).hexdigest() != sha256:
            problems.append(f"{server}: {what} does not match the signed manifest")
        else:
            return data
    raise SourceUnavailable(what, f"no {what}: " + ("; ".join(problems) or "no server"))


def fetch_torrent(client: httpx.Client, servers: Sequence[str], ref: TorrentRef) -> bytes:
    return fetch_verified(
        client,
        servers,
        torrent_path(ref.sha256),
        ref.sha256,
        max_bytes=MAX_TORRENT_BYTES,
        what="torrent file",
    )
