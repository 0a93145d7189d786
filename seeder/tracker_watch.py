"""`TrackerMemoryWatch`: when the seeder's torrents must announce again at once.

The distributor's tracker keeps its peers in memory. After a restart it knows no seeder until
each announces again, and libtorrent re-announces only every 300 s (its min_announce_interval):
for up to five minutes new hosts found no seeder, and `auto` fetches chose plain HTTP. After an
outage, libtorrent's back-off on failed announces (17 s, 55 s, 117 s, ... 1017 s) delays it
further. Not responsible for announcing (`SwarmSession.reannounce_all`).
"""

from __future__ import annotations


class TrackerMemoryWatch:
    """Follows the `tracker_instance` of report answers; says when it changed."""

    def __init__(self) -> None:
        self._instance: str | None = None

    def changed(self, instance: str | None) -> bool:
        """Whether `instance` (the last report answer's; None: not known) is a new tracker."""
        if instance is None:
            return False
        new = self._instance is not None and instance != self._instance
        self._instance = instance
        return new
