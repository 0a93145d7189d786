"""The latest report of each seeder, with when it came and where the seeder listens.

Kept in memory (a restart forgets seeders until they report again, within seconds). A report
older than `stale_after_seconds` marks its seeder stale: still listed, but no longer a "project
seeder" the tracker prefers. A listen host of `0.0.0.0`/`::` is replaced by the address the report
came from. Bounded: at most `max_seeders`; a new seeder beyond that evicts the longest-silent one.

Not responsible for authentication (the route requires the admin token) nor for adding reports
up (a report carries cumulative totals; the latest wins). Thread-safe. Raises nothing.
"""

from __future__ import annotations

import contextlib
import ipaddress
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from distributor.tracker.service import normalize_ip
from image_format.swarm_reports import SeederReport
from image_format.timestamps import utc_timestamp


@dataclass(frozen=True)
class SeenSeeder:
    """One seeder's latest report and its resolved endpoint."""

    report: SeederReport
    endpoint: tuple[str, int]
    received_at: float
    received_utc: str
    stale: bool = False


class SeederRegistry:
    """Latest `SeederReport` per seeder id; also the tracker's `ProjectSeeders`."""

    def __init__(
        self,
        *,
        stale_after_seconds: float,
        max_seeders: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stale_after_seconds = stale_after_seconds
        self._max = max_seeders
        self.clock = clock
        self._lock = threading.Lock()
        self._seen: dict[str, SeenSeeder] = {}

    def record(self, report: SeederReport, remote_ip: str) -> SeenSeeder:
        host, port = report.listen_endpoint
        if ipaddress.ip_address(host).is_unspecified:
            with contextlib.suppress(ValueError):  # not an IP (a test transport): keep as is
                host = normalize_ip(remote_ip)
        seen = SeenSeeder(report, (normalize_ip(host), port), self.clock(), utc_timestamp())
        with self._lock:
            if report.seeder_id not in self._seen and len(self._seen) >= self._max:
                oldest = min(self._seen.values(), key=lambda s: s.received_at)
                del self._seen[oldest.report.seeder_id]
            self._seen[report.seeder_id] = seen
        return seen

    def seeders(self) -> list[SeenSeeder]:
        """Every known seeder by id, each marked stale or not as of now."""
        now = self.clock()
        with self._lock:
            seen = sorted(self._seen.values(), key=lambda s: s.report.seeder_id)
        return [
            SeenSeeder(
                s.report,
                s.endpoint,
                s.received_at,
                s.received_utc,
                stale=now - s.received_at > self.stale_after_seconds,
            )
            for s in seen
        ]

    def endpoints(self) -> frozenset[tuple[str, int]]:
        """Listen endpoints of the seeders that are not stale."""
        return frozenset(s.endpoint for s in self.seeders() if not s.stale)
