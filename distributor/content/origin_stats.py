"""Accounting of what the origin serves, per blob digest: requests, bytes sent, full transfers.

A *full transfer* is a response that sent the whole blob starting at offset 0 and completed.
`bytes_sent` counts body bytes handed to the server's socket while the client was still connected,
so a client that goes away early is charged only for what was sent (plus at most what was in
flight in one write). Swarm health can read the same counters later.

Not responsible for persistence (counters live in memory, per server process) nor for deciding
what counts (the streaming response reports). Thread-safe. Raises nothing.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass


@dataclass
class BlobCounters:
    """Origin traffic of one blob since the server started."""

    requests: int = 0
    bytes_sent: int = 0
    full_transfers: int = 0


class OriginStats:
    """Per-digest counters of origin traffic."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._blobs: dict[str, BlobCounters] = {}

    def _counters(self, digest: str) -> BlobCounters:
        return self._blobs.setdefault(digest, BlobCounters())

    def record_request(self, digest: str) -> None:
        with self._lock:
            self._counters(digest).requests += 1

    def record_bytes(self, digest: str, count: int) -> None:
        with self._lock:
            self._counters(digest).bytes_sent += count

    def record_full_transfer(self, digest: str) -> None:
        with self._lock:
            self._counters(digest).full_transfers += 1

    def get(self, digest: str) -> BlobCounters:
        with self._lock:
            return BlobCounters(**asdict(self._blobs.get(digest, BlobCounters())))

    def snapshot(self) -> dict[str, dict[str, int]]:
        """`{digest: {"requests": n, "bytes_sent": n, "full_transfers": n}}`."""
        with self._lock:
            return {digest: asdict(counters) for digest, counters in self._blobs.items()}
