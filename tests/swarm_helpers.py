"""Helpers for swarm tests: loopback sessions on distinct 127.0.0.x addresses and a tiny Range
HTTP server that plays a web seed (optionally slow or broken)."""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from swarm.config import SwarmConfig
from swarm.session import SwarmSession
from swarm.status import TorrentStatus
from swarm.torrent_maker import piece_length_for


def loopback_session(host_octet: int, **overrides: object) -> SwarmSession:
    """A session listening on 127.0.0.<host_octet>, an ephemeral port, TCP only."""
    config = SwarmConfig(
        listen_interfaces=f"127.0.0.{host_octet}:0",
        allow_multiple_connections_per_ip=True,
        **overrides,  # type: ignore[arg-type]
    )
    return SwarmSession(config)


def zero_piece_bytes(image: Path) -> int:
    """Bytes in the image's all-zero pieces (pieces of the torrent publishing makes of it): a
    fetcher starting from nothing never moves them."""
    data = image.read_bytes()
    piece = piece_length_for(len(data))
    pieces = (data[start : start + piece] for start in range(0, len(data), piece))
    return sum(len(chunk) for chunk in pieces if not any(chunk))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


class RangeServer:
    """Serves one file at any path with single-range support (unless `ignore_range`: then the
    whole file, 200); counts bytes sent."""

    def __init__(
        self, path: Path, host: str, bytes_per_second: int = 0, *, ignore_range: bool = False
    ) -> None:
        self.path = path
        self.bytes_sent = 0
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.requests += 1
                size = server.path.stat().st_size
                first, last = 0, size - 1
                spec = self.headers.get("Range")
                if spec and spec.startswith("bytes=") and not ignore_range:
                    a, _, b = spec[6:].partition("-")
                    first, last = int(a), min(int(b) if b else size - 1, size - 1)
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(last - first + 1))
                self.end_headers()
                with server.path.open("rb") as handle:
                    handle.seek(first)
                    left = last - first + 1
                    while left > 0:
                        block = handle.read(min(64 << 10, left))
                        if not block:
                            break
                        with contextlib.suppress(OSError):
                            self.wfile.write(block)
                        server.bytes_sent += len(block)
                        left -= len(block)
                        if bytes_per_second:
                            time.sleep(len(block) / bytes_per_second)

        self._httpd = ThreadingHTTPServer((host, 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://{host}:{self._httpd.server_port}/v1/blobs/sha256/web-seed"

    def __enter__(self) -> RangeServer:
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@contextlib.contextmanager
def sessions(*octets: int) -> Iterator[list[SwarmSession]]:
    made = [loopback_session(octet) for octet in octets]
    try:
        yield made
    finally:
        for session in made:
            session.close()


def downloading_status(
    *, total_wanted: int, total_done: int, num_peers: int = 1, is_finished: bool = False
) -> TorrentStatus:
    """A download's status as `SwarmTorrent.status` reports it, for fakes of a running torrent."""
    return TorrentStatus(
        info_hash_v1=None,
        info_hash_v2=None,
        state="downloading",
        progress=total_done / total_wanted if total_wanted else 0.0,
        total_wanted=total_wanted,
        total_done=total_done,
        bytes_from_peers=0,
        bytes_from_web_seeds=0,
        redundant_bytes=0,
        uploaded_bytes=0,
        num_peers=num_peers,
        num_seeds=min(num_peers, 1),
        download_rate=0,
        upload_rate=0,
        hash_failures=0,
        is_seeding=False,
        is_finished=is_finished,
        error=None,
    )
