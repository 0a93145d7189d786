"""One streamed GET of a blob over stdlib `http.client`: large reads, redirects, stall timeout.

httpx parses bodies in 64 KiB pieces through pure-Python h11; for multi-GB blobs that costs as much
CPU as hashing them. `http.client` reads straight from the socket into 1 MiB buffers. httpx keeps
the small requests (manifests), where its conveniences matter more than speed.

Error contract: `BlobTransferError` for every network or protocol failure (with `stalled` set
when the socket timed out); nothing from the partial file is handled here.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

MAX_REDIRECTS = 5
USER_AGENT = "client-fetch/0.1"


class BlobTransferError(Exception):
    """The connection failed, timed out (`stalled`) or broke the protocol."""

    def __init__(self, message: str, *, stalled: bool = False) -> None:
        super().__init__(message)
        self.stalled = stalled


@dataclass
class BlobResponse:
    """An open response: status, headers, and `read(n)` for the body."""

    status: int
    headers: http.client.HTTPMessage
    _response: http.client.HTTPResponse
    _connection: http.client.HTTPConnection

    def read(self, count: int) -> bytes:
        """Up to `count` bytes from one socket read: bytes that arrived are never held back."""
        try:
            return self._response.read1(count)
        except TimeoutError as exc:
            raise BlobTransferError("no data within the stall timeout", stalled=True) from exc
        except http.client.IncompleteRead as exc:
            raise BlobTransferError(f"connection closed early ({exc!r})") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise BlobTransferError(f"read failed: {exc!r}") from exc

    def close(self) -> None:
        self._connection.close()


def content_range_start(header: str | None) -> int | None:
    """The first byte of a `Content-Range: bytes 100-199/1000` header, or None."""
    if not header or not header.startswith("bytes "):
        return None
    first, _, _ = header[len("bytes ") :].partition("-")
    return int(first) if first.isdigit() else None


TlsContext = Callable[[], ssl.SSLContext]
"""Gives the verifying context for https (the fetcher's `TrustStore.context`); called only when an
https URL is opened."""


def _connect(
    url: str, connect_timeout: float, tls_context: TlsContext
) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    if parts.scheme == "https":
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.netloc, timeout=connect_timeout, context=tls_context()
        )
    elif parts.scheme == "http":
        connection = http.client.HTTPConnection(parts.netloc, timeout=connect_timeout)
    else:
        raise BlobTransferError(f"unsupported URL scheme in {url!r}")
    return connection, target or "/"


def open_blob(
    url: str,
    headers: dict[str, str],
    *,
    connect_timeout: float,
    stall_timeout: float,
    tls_context: TlsContext,
) -> BlobResponse:
    """GET `url` (following redirects); the caller must `close()` the result. https is verified
    against `tls_context()`, called only when an https URL is opened."""
    for _ in range(MAX_REDIRECTS + 1):
        connection, target = _connect(url, connect_timeout, tls_context)
        try:
            connection.connect()
            if connection.sock is not None:
                connection.sock.settimeout(stall_timeout)
                connection.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            connection.request("GET", target, headers={"User-Agent": USER_AGENT, **headers})
            response = connection.getresponse()
        except TimeoutError as exc:
            connection.close()
            raise BlobTransferError("no answer within the timeout", stalled=True) from exc
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise BlobTransferError(f"request failed: {exc!r}") from exc
        location = response.getheader("Location")
        if response.status in (301, 302, 303, 307, 308) and location:
            connection.close()
            url = urljoin(url, location)
            continue
        return BlobResponse(response.status, response.headers, response, connection)
    raise BlobTransferError(f"more than {MAX_REDIRECTS} redirects")
