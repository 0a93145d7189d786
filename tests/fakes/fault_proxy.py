"""A real HTTP server on loopback that forwards to a distributor and injects faults.

It is a fake of our own protocol edge (a misbehaving mirror), not a mock: clients talk to it over
real sockets. Faults apply to blob requests (`/v1/blobs/...`) unless they name manifests or chunks;
`blob_digest` narrows the blob faults to one blob (a delta patch, say). Chunk faults apply to
chunks and packs (`/v1/chunks/sha256/<id>`, `/v1/packs/sha256/<digest>`): 404 for chosen ids or
pack digests, or one byte flipped in every body (every Range of a pack).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx


@dataclass
class Faults:
    """What the proxy does wrong. Counters are updated by the proxy."""

    status: int | None = None  # answer every blob request with this status
    truncate_after: int | None = None  # send full headers, then only this many body bytes
    stall_after: int | None = None  # send this many body bytes, then stall
    stall_seconds: float = 30.0
    corrupt_offset: int | None = None  # flip the byte at this offset of the blob
    rate_bytes_per_second: float | None = None  # throttle blob bodies
    tamper_manifest: bool = False  # change a signed field without re-signing
    manifest_name: str | None = None  # serve the manifest of this ref instead (name@version)
    blob_digest: str | None = None  # blob faults apply only to this digest (None: every blob)
    chunk_missing: frozenset[str] = frozenset()  # answer 404 for these chunk ids / pack digests
    chunk_corrupt_offset: int | None = None  # flip this byte (clamped) of every chunk body
    blob_requests: int = 0
    blob_bytes_sent: int = 0
    chunk_requests: int = 0
    chunk_bytes_sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self._forward(head=True)

    def do_GET(self) -> None:
        self._forward(head=False)

    def _forward(self, *, head: bool) -> None:
        faults = self.server.faults
        path = self.path
        is_blob = path.startswith("/v1/blobs/")
        is_chunk = path.startswith(("/v1/chunks/", "/v1/packs/"))
        if not is_blob and faults.manifest_name and "/manifest" in path:
            name, _, version = faults.manifest_name.partition("@")
            path = f"/v1/images/{name}/versions/{version}/manifest"
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("range", "if-none-match")}
        if is_blob:
            with faults.lock:
                faults.blob_requests += 1
            if faults.status is not None and self._blob_faulted(path):
                self._send_simple(faults.status, b'{"error":"injected"}')
                return
        if is_chunk:
            with faults.lock:
                faults.chunk_requests += 1
            if path.rsplit("/", 1)[-1] in faults.chunk_missing:
                self._send_simple(404, b'{"error":"injected: no such chunk"}')
                return
        with (
            httpx.Client(timeout=60) as client,
            client.stream(
                "HEAD" if head else "GET", self.server.upstream + path, headers=headers
            ) as upstream,
        ):
            if (
                not is_blob
                and not is_chunk
                and faults.tamper_manifest
                and upstream.status_code == 200
            ):
                document = json.loads(upstream.read())
                document["signed"]["size"] = int(document["signed"]["size"]) + 1
                self._send_simple(200, json.dumps(document).encode())
                return
            self.send_response(upstream.status_code)
            for key, value in upstream.headers.items():
                if key.lower() not in ("transfer-encoding", "connection", "content-encoding"):
                    self.send_header(key, value)
            self.send_header("Connection", "close")  # said, so clients do not reuse the socket
            self.end_headers()
            if head:
                return
            if is_chunk:
                self._send_chunk_body(upstream)
            else:
                self._stream_body(upstream, is_blob and self._blob_faulted(path))

    def _blob_faulted(self, path: str) -> bool:
        digest = self.server.faults.blob_digest
        return digest is None or path.rstrip("/").rsplit("/", 1)[-1] == digest

    def _send_chunk_body(self, upstream: httpx.Response) -> None:
        faults = self.server.faults
        body = bytearray(b"".join(upstream.iter_raw()))
        if faults.chunk_corrupt_offset is not None and body:
            body[min(faults.chunk_corrupt_offset, len(body) - 1)] ^= 0xFF
        self._write(bytes(body))
        with faults.lock:
            faults.chunk_bytes_sent += len(body)
        self.close_connection = True

    def _stream_body(self, upstream: httpx.Response, is_blob: bool) -> None:
        """Forward the body; `is_blob`: the blob faults apply to it."""
        faults = self.server.faults
        start = 0
        content_range = upstream.headers.get("content-range", "")
        if content_range.startswith("bytes ") and "-" in content_range:
            start = int(content_range[6:].split("-")[0])
        offset = start
        sent = 0
        for block in upstream.iter_raw():
            data = bytearray(block)
            if is_blob and faults.corrupt_offset is not None:
                index = faults.corrupt_offset - offset
                if 0 <= index < len(data):
                    data[index] ^= 0xFF
            if is_blob and faults.truncate_after is not None:
                allowed = faults.truncate_after - sent
                if allowed <= 0:
                    break
                data = data[:allowed]
            if is_blob and faults.stall_after is not None and sent + len(data) > faults.stall_after:
                data = data[: max(faults.stall_after - sent, 0)]
                self._write(bytes(data))
                sent += len(data)
                time.sleep(faults.stall_seconds)
                break
            if is_blob and faults.rate_bytes_per_second:
                time.sleep(len(data) / faults.rate_bytes_per_second)
            self._write(bytes(data))
            sent += len(data)
            offset += len(data)
            if is_blob:
                with faults.lock:
                    faults.blob_bytes_sent += len(data)
        self.close_connection = True

    def _write(self, data: bytes) -> None:
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _send_simple(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # a chunked fetch opens several connections at once

    def __init__(self, upstream: str, faults: Faults) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream = upstream.rstrip("/")
        self.faults = faults


@contextmanager
def fault_proxy(upstream: str, faults: Faults | None = None) -> Iterator[tuple[str, Faults]]:
    """Run a proxy to `upstream`; yield (its base URL, the live Faults object)."""
    faults = faults or Faults()
    server = _ProxyServer(upstream, faults)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", faults
    finally:
        server.shutdown()
        server.server_close()
