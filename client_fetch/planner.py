"""Which sources to try, in which order, for one manifest.

Rules (`--via auto`):
- a cached image never reaches the planner (the fetcher answers hits first);
- the manifest names a torrent and the tracker's scrape shows at least one seeder and at least
  `swarm_min_peers` peers in all → the swarm first (the hosts upload, not the origin), plain
  HTTP from each server after it;
- a seeder but fewer peers than that → plain HTTP first, the swarm last (its peers are one more
  way when every server failed);
- no seeder, or the tracker cannot be asked (it is the swarm's only peer discovery) → plain HTTP
  only: the swarm would add nothing but web seeds, which are the same servers.
`--via http` and `--via swarm` use only that kind.

Not responsible for trying the sources (the fetcher does) nor for their errors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from client_fetch.sources.base import ImageSource
from client_fetch.tracker_scrape import SwarmCounts
from image_format.manifest import Manifest, TorrentRef

VIA_CHOICES = ("auto", "http", "swarm")


@dataclass(frozen=True)
class Plan:
    """The sources in order and why (for reports and `plan` output)."""

    sources: list[ImageSource]
    reason: str


class SourcePlanner:
    """Orders HTTP sources and an optional swarm source by the stated rules."""

    def __init__(
        self,
        via: str,
        http_sources: Sequence[ImageSource],
        swarm_source: ImageSource | None,
        scrape: Callable[[TorrentRef], SwarmCounts | None],
        swarm_min_peers: int,
    ) -> None:
        self._via = via
        self._http = list(http_sources)
        self._swarm = swarm_source
        self._scrape = scrape
        self._min_peers = swarm_min_peers

    def plan(self, manifest: Manifest) -> Plan:
        swarm = [self._swarm] if self._swarm is not None and manifest.torrent else []
        if self._via == "http":
            return Plan(self._http, "--via http")
        if self._via == "swarm":
            return Plan(
                swarm, "--via swarm" if swarm else "--via swarm: the manifest has no torrent"
            )
        if not swarm or manifest.torrent is None:
            return Plan(self._http, "no torrent: plain HTTP")
        counts = self._scrape(manifest.torrent)
        if counts is None:
            return Plan(self._http, "tracker did not answer: plain HTTP")
        swarm_size = f"{counts.complete} seeders, {counts.incomplete} leechers"
        if counts.complete == 0:
            return Plan(self._http, f"no seeder ({swarm_size}): plain HTTP")
        if counts.complete + counts.incomplete >= self._min_peers:
            return Plan(swarm + self._http, f"swarm first: {swarm_size}")
        return Plan(self._http + swarm, f"small swarm ({swarm_size}): HTTP first, swarm last")
