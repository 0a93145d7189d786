"""One server's pack files over HTTP: `GET /v1/packs/sha256/<digest>` with a `Range` header.

Error contract: 404 → `PackMissing`; transport errors, other statuses, a body of the wrong
length or a `Content-Range` other than the one asked for → `PackUnavailable`. Bytes are not
checked here (a pack range is verified chunk by chunk by the caller). `bytes_moved` counts every
byte of content received (200 and 206 bodies), gaps between wanted chunks included. httpx is
thread-safe, so one mirror serves parallel range requests.
"""

from __future__ import annotations

import threading

import httpx

from image_format.chunks import pack_path


class PackError(Exception):
    """A range of a pack could not be had from one mirror; `reason` says why."""

    def __init__(self, where: str, reason: str) -> None:
        super().__init__(f"{where}: {reason}")
        self.reason = reason


class PackMissing(PackError):
    """The mirror does not hold this pack."""


class PackUnavailable(PackError):
    """The mirror could not answer now (network, 5xx, stall) or answered the wrong bytes count."""


class PackMirror:
    """Range requests for packs on one server; counts bytes moved and corrupt chunks seen."""

    def __init__(self, server_url: str, client: httpx.Client) -> None:
        self.server_url = server_url.rstrip("/")
        self._client = client
        self._lock = threading.Lock()
        self.bytes_moved = 0
        self.requests = 0
        self.hash_failures = 0

    @property
    def name(self) -> str:
        return self.server_url

    def count_hash_failure(self) -> None:
        with self._lock:
            self.hash_failures += 1

    def read(self, pack: str, start: int, end: int) -> bytes:
        """Bytes `[start, end)` of `pack`."""
        where = f"{self.server_url} pack {pack[:12]} bytes {start}-{end - 1}"
        headers = {"Range": f"bytes={start}-{end - 1}"}
        try:
            response = self._client.get(self.server_url + pack_path(pack), headers=headers)
        except httpx.HTTPError as exc:
            raise PackUnavailable(where, repr(exc)) from exc
        body = response.content
        with self._lock:
            self.requests += 1
            if response.status_code in (200, 206):
                self.bytes_moved += len(body)
        if response.status_code == 404:
            raise PackMissing(where, "no such pack")
        if response.status_code == 200 and len(body) >= end:
            return body[start:end]  # the Range was ignored: the whole pack came
        if response.status_code != 206:
            raise PackUnavailable(where, f"HTTP {response.status_code}")
        content_range = response.headers.get("content-range", "")
        if not content_range.startswith(f"bytes {start}-{end - 1}/") or len(body) != end - start:
            raise PackUnavailable(where, f"got {len(body)} bytes, {content_range!r}")
        return body
