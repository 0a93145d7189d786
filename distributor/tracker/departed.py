"""What a swarm remembers of peers it dropped without `stopped`.

A peer expires after missing two announces, and a new peer from a full address replaces the
address's stalest one; either way its client may still be running and announce again, with the
totals of the same session, which swarm health counted already, and perhaps a retried
`completed`. Remembering the dropped peer's last report lets it continue from there.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

Report = TypeVar("Report")

DEPARTED_REMEMBERED = 10_000
"""Per swarm, how many dropped peers are remembered at most (oldest forgotten first)."""


class DepartedPeers(Generic[Report]):
    """Last reports of dropped peers, keyed by (peer_id, ip), oldest first.

    Bounded three ways: per address (`per_address`, so hosts behind one NAT replacing each other,
    or one host making up peer ids, cannot push everyone else's out), per swarm (`limit`), and in
    time (`forget_before`, which the registry calls for every swarm once per expiry period). Not
    responsible for deciding who departs nor for what a report holds. Raises nothing.
    """

    def __init__(self, per_address: int, limit: int = DEPARTED_REMEMBERED) -> None:
        self._per_address = per_address
        self._limit = limit
        self._reports: OrderedDict[tuple[bytes, str], tuple[Report, float]] = OrderedDict()
        self._per_ip: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._reports)

    def remember(self, key: tuple[bytes, str], report: Report, now: float) -> None:
        """Keep `report` for `key`, dropped at `now`, unless its address holds its share."""
        self.take(key)
        if self._per_ip.get(key[1], 0) >= self._per_address:
            return
        self._reports[key] = (report, now)
        self._per_ip[key[1]] = self._per_ip.get(key[1], 0) + 1
        while len(self._reports) > self._limit:
            self._pop_oldest()

    def take(self, key: tuple[bytes, str]) -> Report | None:
        """The report kept for `key`, forgotten once taken; None when there is none."""
        kept = self._reports.pop(key, None)
        if kept is None:
            return None
        self._uncount(key[1])
        return kept[0]

    def forget_before(self, when: float) -> None:
        """Forget the peers dropped before `when` (a client silent that long has most likely
        quit; if it comes back, it counts as a new one)."""
        while self._reports and next(iter(self._reports.values()))[1] < when:
            self._pop_oldest()

    def _pop_oldest(self) -> None:
        key, _ = self._reports.popitem(last=False)
        self._uncount(key[1])

    def _uncount(self, ip: str) -> None:
        left = self._per_ip[ip] - 1
        if left:
            self._per_ip[ip] = left
        else:
            del self._per_ip[ip]
