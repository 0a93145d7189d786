"""A stub BitTorrent tracker of our own: answers every request with one fixed bencoded body and
records what was asked and when. For tests of how libtorrent sessions talk to trackers (the
real tracker is tested on its own, through the distributor)."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NO_PEERS = b"d8:intervali60e5:peers0:e"


@dataclass
class StubTracker:
    url: str
    asked: list[tuple[float, str]] = field(default_factory=list)
    """(time.monotonic() when answered, request path) of every request."""


@contextmanager
def stub_tracker(
    host: str, body: bytes = NO_PEERS, tls: ssl.SSLContext | None = None
) -> Iterator[StubTracker]:
    """Serve on `host` (an ephemeral port; over TLS with `tls`) until the block ends."""
    server = ThreadingHTTPServer((host, 0), BaseHTTPRequestHandler)
    scheme = "https" if tls is not None else "http"
    stub = StubTracker(f"{scheme}://{host}:{server.server_port}/announce")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            stub.asked.append((time.monotonic(), self.path))

    server.RequestHandlerClass = Handler
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
