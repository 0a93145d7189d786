"""The CA certificates the fetcher trusts for https, one bundle for every way it speaks TLS.

The fetcher speaks https through three stacks: httpx (manifests, torrents, chunk indexes, reports),
`http.client` (blobs and tail ranges) and libtorrent's own OpenSSL (https trackers and web seeds).
Each has its own default trust (certifi's bundle; the system store; a path on the libtorrent
wheel's build machine), so a deployment with a private CA, or a host whose system store lacks a
public CA, worked through one of them and failed through another. `TrustStore` is the one answer
all three get: `CLIENT_FETCH_CA_FILE` when set, else certifi's bundle (httpx's default, kept as
the default for all).

Nothing is loaded until it is needed: httpx and the blob reader read the bundle on their first
https request (a redirect to https included); a swarm session always gets the bundle's path
(libtorrent follows a tracker's or web seed's redirect to https too) and reads it as it starts.
Not responsible for anything in TLS but which certificates are trusted (verification stays on;
protocol versions are the `ssl` module's defaults). Error contract: `TrustStoreError` (carrying
the path) when the bundle cannot be read or holds no usable certificate, raised by the first
https use.
"""

from __future__ import annotations

import ssl
import threading
from pathlib import Path

from client_fetch.errors import TrustStoreError


class TrustStore:
    """The CA bundle to trust: `ca_file`, else certifi's; its SSL context is built once."""

    def __init__(self, ca_file: Path | None = None) -> None:
        self._ca_file = ca_file
        self._context: ssl.SSLContext | None = None
        self._lock = threading.Lock()

    def path(self) -> str:
        """The bundle's path (importing certifi only when no file is configured)."""
        if self._ca_file is not None:
            return str(self._ca_file)
        import certifi

        return str(certifi.where())

    def checked_path(self) -> str:
        """`path()` for libtorrent, which would only fail its https announces quietly on a file
        holding no certificate: a configured bundle is read first (`context()`, raising
        `TrustStoreError`). certifi's is not: it ships with a package the fetcher depends on, and
        reading it here cost every swarm fetch ~15 ms of CPU before its torrent was added, on
        top of libtorrent's own read of it as the session starts."""
        if self._ca_file is not None:
            self.context()
        return self.path()

    def context(self) -> ssl.SSLContext:
        """A verifying client context trusting exactly the bundle (thread-safe, built once)."""
        with self._lock:
            if self._context is None:
                path = self.path()
                try:
                    self._context = ssl.create_default_context(cafile=path)
                except (OSError, ssl.SSLError) as exc:
                    raise TrustStoreError(path, str(exc)) from exc
            return self._context
