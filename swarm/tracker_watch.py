"""`TrackerMemoryWatch`: when a seeding session's torrents must announce again at once.

The distributor's tracker keeps its peers in memory. After a restart it knows no seeder until
each announces again, and libtorrent re-announces only every 300 s (its min_announce_interval):
for up to five minutes new hosts found no seeder, and `auto` fetches chose plain HTTP. After an
outage, libtorrent's back-off on failed announces (17 s, 55 s, 117 s, ... 1017 s) delays it
further. So whoever seeds (the seeder daemon, reading its report answers; a volunteer's
`client-fetch seed`, polling the tracker's instance) announces every torrent at once when it sees
a new `tracker_instance`, or when the distributor is reachable again after an outage; at most
once per `min_gap_seconds`, so a flapping link (or two distributors answering in turn) cannot
make it announce every few seconds. Not responsible for announcing (the `reannounce` it is
given) nor for asking the distributor.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

MIN_GAP_SECONDS = 60.0


class TrackerMemoryWatch:
    """Follows the tracker's instance and the distributor's outages; calls `reannounce` when the
    tracker may have lost the seeding session's peers. An announce held back by the gap is made
    at the first sighting of an instance after the gap. Never raises what `reannounce` does not."""

    def __init__(
        self,
        reannounce: Callable[[], None],
        *,
        min_gap_seconds: float = MIN_GAP_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._reannounce = reannounce
        self._min_gap = min_gap_seconds
        self._clock = clock
        self._instance: str | None = None
        self._last: float | None = None
        self._held_back = False

    def after_report(self, accepted: bool, instance: str | None) -> None:
        """A report was sent; `instance` is its answer's `tracker_instance` (None: not known)."""
        if accepted and instance is not None:
            self.saw_instance(instance)

    def saw_instance(self, instance: str) -> None:
        """The distributor named its tracker's current instance."""
        new = self._instance is not None and instance != self._instance
        self._instance = instance
        if new:
            self._announce("the distributor's tracker restarted")
        elif self._held_back:
            self._announce("an announce was held back")

    def after_outage(self) -> None:
        """The distributor is reachable again after failing: announces may have failed too."""
        self._announce("the distributor is reachable again")

    def _announce(self, why: str) -> None:
        now = self._clock()
        if self._last is not None and now - self._last < self._min_gap:
            log.info("%s; announced %.0f s ago, not again yet", why, now - self._last)
            self._held_back = True
            return
        self._last = now
        self._held_back = False
        log.info("%s: announcing every torrent", why)
        self._reannounce()
