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
        """Bytes `[start, end)` of `pack`. Reads at most what it asked for (plus one byte to
        see a body that is too long), so a bad mirror cannot make it hold more."""
        where = f"{self.server_url} pack {pack[:12]} bytes {start}-{end - 1}"
        headers = {"Range": f"bytes={start}-{end - 1}"}
        url = self.server_url + pack_path(pack)
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                status = response.status_code
                content_range = response.headers.get("content-range", "")
                # 200: the Range was ignored and the pack comes from byte 0; keep its prefix
                limit = {206: end - start + 1, 200: end}.get(status, 0)
                body = _read_at_most(response, limit)
        except httpx.HTTPError as exc:
            raise PackUnavailable(where, repr(exc)) from exc
        with self._lock:
            self.requests += 1
            self.bytes_moved += len(body)
        if status == 404:
            raise PackMissing(where, "no such pack")
        if status == 200 and len(body) == end:
            return body[start:end]
        if status != 206:
            raise PackUnavailable(where, f"HTTP {status}, {len(body)} bytes")
        if not content_range.startswith(f"bytes {start}-{end - 1}/") or len(body) != end - start:
            raise PackUnavailable(where, f"got {len(body)} bytes, {content_range!r}")
        return body


def _read_at_most(response: httpx.Response, limit: int) -> bytes:
    parts: list[bytes] = []
    got = 0
    if limit > 0:
        for block in response.iter_bytes():
            parts.append(block[: limit - got])
            got += len(parts[-1])
            if got >= limit:
                break
    return b"".join(parts)
