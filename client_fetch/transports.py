"""The transports of the client's one `httpx.Client`: TLS is set up only once https:// is used.

httpx's default transport builds a verifying SSL context when the client is made, which loads the
whole CA bundle: about 15 ms of CPU in every `client-fetch` process, most of which never speak TLS
(servers are often plain http://; https:// may still come later, e.g. a mirror URL from a
manifest or a redirect). So http:// gets a transport whose SSL context is never used, and every
other URL a `LazyTransport` that builds httpx's transport, verifying against the fetcher's CA
bundle (`client_fetch.trust`), on its first request.

Not responsible for timeouts, redirects or headers: those stay the client's. Errors: those of
httpx's transports, unchanged (building the TLS transport can raise what httpx raises there).
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable

import httpx


class LazyTransport(httpx.BaseTransport):
    """A transport built on its first request; thread-safe (chunk workers share the client)."""

    def __init__(self, build: Callable[[], httpx.BaseTransport]) -> None:
        self._build = build
        self._transport: httpx.BaseTransport | None = None
        self._lock = threading.Lock()

    @property
    def built(self) -> bool:
        """Whether a request has made this transport build the real one (and it is not closed)."""
        return self._transport is not None

    def _real(self) -> httpx.BaseTransport:
        transport = self._transport
        if transport is None:
            with self._lock:
                if self._transport is None:
                    self._transport = self._build()
                transport = self._transport
        return transport

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._real().handle_request(request)

    def close(self) -> None:
        with self._lock:
            transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()


def plain_http_transport(*, trust_env: bool) -> httpx.HTTPTransport:
    """httpx's transport for http:// URLs only, without loading any certificate.

    Its SSL context holds no CA certificate and keeps `PROTOCOL_TLS_CLIENT`'s defaults
    (certificate and host name checks on): it is never used for http://, and anything that did
    use it for TLS would be refused rather than trusted.
    """
    return httpx.HTTPTransport(verify=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), trust_env=trust_env)


def tls_transport(*, trust_env: bool, context: Callable[[], ssl.SSLContext]) -> LazyTransport:
    """httpx's transport verifying TLS with `context()` (the fetcher's `TrustStore`), built on
    first use."""
    return LazyTransport(lambda: httpx.HTTPTransport(verify=context(), trust_env=trust_env))
