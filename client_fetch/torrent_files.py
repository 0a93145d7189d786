"""Getting a version's .torrent file from the servers, checked against the signed manifest.

A server or mirror can only fail here, never substitute another torrent: the bytes must hash to
the manifest's `torrent.sha256`. Errors: `SourceUnavailable` (source "torrent") when no server
has a matching file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import httpx

from client_fetch.errors import SourceUnavailable
from image_format.content_paths import torrent_path
from image_format.manifest import TorrentRef

MAX_TORRENT_BYTES = 16 << 20


def fetch_torrent(client: httpx.Client, servers: Sequence[str], ref: TorrentRef) -> bytes:
    problems: list[str] = []
    for server in servers:
        try:
            response = client.get(server + torrent_path(ref.sha256))
        except httpx.HTTPError as exc:
            problems.append(f"{server}: {exc!r}")
            continue
        data = response.content
        if response.status_code != 200:
            problems.append(f"{server}: HTTP {response.status_code}")
        elif len(data) > MAX_TORRENT_BYTES or hashlib.sha256(data).hexdigest() != ref.sha256:
            problems.append(f"{server}: torrent does not match the signed manifest")
        else:
            return data
    raise SourceUnavailable("torrent", "no torrent file: " + ("; ".join(problems) or "no server"))
