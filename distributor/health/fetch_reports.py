"""Hosts' fetch reports added up per image version (counts per method and outcome, byte sums).

In memory, from the server's start. Bounded by the caller: the route records reports only for
versions the catalog knows, so the table holds at most (versions * 5 methods * 2 outcomes)
counters. Not responsible for validating reports (`image_format.swarm_reports.FetchReport` does).
Thread-safe. Raises nothing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

from image_format.swarm_reports import FetchReport


@dataclass(frozen=True)
class FetchTotals:
    """What hosts reported about one version."""

    reports: int = 0
    outcomes: dict[tuple[str, str], int] = field(default_factory=dict)  # (method, outcome) → n
    bytes_from_peers: int = 0
    bytes_from_origin: int = 0
    bytes_from_mirrors: int = 0
    hash_failures: int = 0
    seconds_total: float = 0.0

    def count(self, *, outcome: str, method: str | None = None) -> int:
        return sum(n for (m, o), n in self.outcomes.items() if o == outcome and method in (None, m))


class FetchReportLog:
    """`FetchTotals` per (name, version)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._totals: dict[tuple[str, str], FetchTotals] = {}

    def record(self, report: FetchReport) -> None:
        key = (report.name, report.version)
        with self._lock:
            old = self._totals.get(key, FetchTotals())
            outcomes = dict(old.outcomes)
            outcomes[(report.method, report.outcome)] = (
                outcomes.get((report.method, report.outcome), 0) + 1
            )
            self._totals[key] = replace(
                old,
                reports=old.reports + 1,
                outcomes=outcomes,
                bytes_from_peers=old.bytes_from_peers + report.bytes_from_peers,
                bytes_from_origin=old.bytes_from_origin + report.bytes_from_origin,
                bytes_from_mirrors=old.bytes_from_mirrors + report.bytes_from_mirrors,
                hash_failures=old.hash_failures + report.hash_failures,
                seconds_total=old.seconds_total + report.seconds,
            )

    def totals(self, name: str, version: str) -> FetchTotals:
        with self._lock:
            return self._totals.get((name, version), FetchTotals())
