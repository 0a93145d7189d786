"""One byte range of a blob over HTTP, from the first server that serves it: how the swarm reads
the last pieces it cannot get from peers (`swarm.download_watch.TailFetch`).

Not responsible for checking the bytes: libtorrent hashes the piece they fill, so a server that
sends wrong bytes costs a hash failure, never a wrong image. Error contract: `RangeUnavailable`
(the swarm's) when no server returned exactly the range asked for.
"""

from __future__ import annotations

from collections.abc import Sequence

from client_fetch.sources.blob_connection import (
    BlobResponse,
    BlobTransferError,
    TlsContext,
    content_range_start,
    open_blob,
)
from image_format.content_paths import blob_path
from swarm.errors import RangeUnavailable


class BlobRangeReader:
    """Reads ranges of the blob `digest` from `servers`, tried in order for each range."""

    def __init__(
        self,
        servers: Sequence[str],
        digest: str,
        *,
        connect_timeout_seconds: float,
        stall_timeout_seconds: float,
        tls_context: TlsContext,
    ) -> None:
        self._urls = [server.rstrip("/") + blob_path(digest) for server in servers]
        self._connect_timeout = connect_timeout_seconds
        self._stall_timeout = stall_timeout_seconds
        self._tls_context = tls_context

    def __call__(self, offset: int, length: int) -> bytes:
        problems: list[str] = []
        for url in self._urls:
            try:
                return self._read(url, offset, length)
            except BlobTransferError as exc:
                problems.append(f"{url}: {exc}")
        raise RangeUnavailable(offset, length, "; ".join(problems) or "no server configured")

    def _read(self, url: str, offset: int, length: int) -> bytes:
        response = open_blob(
            url,
            {"Range": f"bytes={offset}-{offset + length - 1}"},
            connect_timeout=self._connect_timeout,
            stall_timeout=self._stall_timeout,
            tls_context=self._tls_context,
        )
        try:
            return _body(response, offset, length)
        finally:
            response.close()


def _body(response: BlobResponse, offset: int, length: int) -> bytes:
    if response.status != 206:
        raise BlobTransferError(f"HTTP {response.status} for a range request")
    if content_range_start(response.headers.get("Content-Range")) != offset:
        raise BlobTransferError("206 for another range than requested")
    parts: list[bytes] = []
    received = 0
    while received < length:
        part = response.read(length - received)
        if not part:
            raise BlobTransferError(f"body ended after {received} of {length} bytes")
        parts.append(part)
        received += len(part)
    return b"".join(parts)
