"""Which sources to try, in which order, for one manifest, and what each would cost.

Rules (`--via auto`), in this order:
- a cached image costs nothing: the fetcher answers hits before it asks the planner;
- update sources (a delta from a cached base, chunks with cached donors) go first when they use
  something this host already has and would move fewer bytes than the whole image, smallest
  transfer first: so a delta wins when its base is cached and it is the smallest transfer, and
  chunks when donors cover part of the image (a cold host has no donors: its chunks come under
  the rule for chunks without donors, below);
- then the whole image: the manifest names a torrent and the tracker's scrape shows at least one
  seeder and at least `swarm_min_peers` peers → the swarm (the hosts upload, not the origin),
  then plain HTTP from each server;
- a seeder but fewer peers than that → plain HTTP first, the swarm after it;
- no seeder, or no tracker answer (the tracker is the swarm's only peer discovery) → plain HTTP
  only: the swarm would add nothing but web seeds, which are the same servers;
- chunks for a host without donors go just before plain HTTP when they move at most
  `COLD_CHUNKS_MAX_SHARE` of the image (zero runs cost nothing and chunks travel compressed: a VM
  image is often mostly free space); for less saving one plain stream is the simpler transfer;
- plain HTTP is always the last resort.
`--via http|swarm|delta|chunks` uses only sources of that method.

Not responsible for trying the sources (the fetcher does) nor for their errors; estimates are
cheap (no image bytes move) and a source that cannot serve says so by `SourceUnavailable`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from client_fetch.errors import SourceUnavailable
from client_fetch.sources.base import Estimate, ImageSource
from client_fetch.via import VIA_CHOICES
from image_format.manifest import Manifest, TorrentRef

if TYPE_CHECKING:  # a type only: a `get --via swarm|http` never scrapes the tracker
    from client_fetch.tracker_scrape import SwarmCounts


COLD_CHUNKS_MAX_SHARE = 0.5
"""Chunks without donors are tried before plain HTTP when they move at most this share of the
image (the 1 GiB Debian image v2 of bench/update: 70.4 MB of stored chunks, 6.6 %; its Range
requests move 73.4 MB, gaps included)."""


@dataclass(frozen=True)
class Plan:
    """The sources in order, why, and every source's estimate (for `plan` output): those to be
    tried (`estimates`, in order), those that could serve but are not tried (`not_tried`, with
    the rule that left them out) and those that cannot serve (`unavailable`)."""

    sources: list[ImageSource]
    reason: str
    estimates: list[Estimate] = field(default_factory=list)
    unavailable: list[tuple[str, str]] = field(default_factory=list)
    swarm: SwarmCounts | None = None
    not_tried: list[tuple[Estimate, str]] = field(default_factory=list)


__all__ = ["VIA_CHOICES", "Plan", "SourcePlanner"]


class SourcePlanner:
    """Orders update sources, an optional swarm source and HTTP sources by the stated rules."""

    def __init__(
        self,
        via: str,
        http_sources: Sequence[ImageSource],
        swarm_source: ImageSource | None,
        scrape: Callable[[TorrentRef], SwarmCounts | None],
        swarm_min_peers: int,
        update_sources: Sequence[ImageSource] = (),
    ) -> None:
        self._via = via
        self._http = list(http_sources)
        self._swarm = swarm_source
        self._scrape = scrape
        self._min_peers = swarm_min_peers
        self._updates = list(update_sources)

    def plan(self, manifest: Manifest, resume_offset: int = 0) -> Plan:
        estimates: dict[int, Estimate] = {}
        unavailable: list[tuple[str, str]] = []
        for source in [*self._updates, *self._http, *([self._swarm] if self._swarm else [])]:
            try:
                estimates[id(source)] = source.estimate(manifest, resume_offset)
            except SourceUnavailable as exc:
                unavailable.append((source.name, exc.reason))
        updates = sorted(
            (s for s in self._updates if id(s) in estimates),
            key=lambda s: estimates[id(s)].bytes_to_move,
        )
        if self._via in ("delta", "chunks"):
            chosen = [s for s in updates if s.method == self._via]
            whole, reason, counts = chosen, f"--via {self._via}", None
            whole_reason = reason
        else:
            worth = [
                s
                for s in updates
                if estimates[id(s)].local_bytes > 0
                and estimates[id(s)].bytes_to_move < manifest.size
            ]
            whole, reason, counts = self._whole_image(manifest)
            whole_reason = reason
            lean = [
                s
                for s in updates
                if estimates[id(s)].local_bytes == 0
                and estimates[id(s)].bytes_to_move <= manifest.size * COLD_CHUNKS_MAX_SHARE
            ]
            if self._via == "auto" and lean and any(s in whole for s in self._http):
                at = min(whole.index(s) for s in self._http if s in whole)
                whole = whole[:at] + lean + whole[at:]
                best = estimates[id(lean[0])]
                moved = f"{best.source}: {best.bytes_to_move} of {manifest.size} bytes to move"
                reason = (
                    f"{moved}, no donors needed; {reason}" if at == 0 else f"{reason}; then {moved}"
                )
            if self._via == "auto" and worth:
                best = estimates[id(worth[0])]
                reason = (
                    f"{best.source}: {best.bytes_to_move} of {manifest.size} bytes to move; "
                    + reason
                )
                whole = worth + whole
        ordered = [s for s in whole if id(s) in estimates]
        left_out = [
            (estimates[id(s)], self._why_not(s, estimates[id(s)], whole_reason))
            for s in [*self._updates, *([self._swarm] if self._swarm else []), *self._http]
            if id(s) in estimates and s not in ordered
        ]
        return Plan(
            ordered, reason, [estimates[id(s)] for s in ordered], unavailable, counts, left_out
        )

    def _why_not(self, source: ImageSource, estimate: Estimate, whole_reason: str) -> str:
        """The rule that leaves out a source that could serve (see the module's rules)."""
        if self._via != "auto":
            return f"--via {self._via}"
        if source in self._updates:
            if estimate.local_bytes == 0:
                share = f"{COLD_CHUNKS_MAX_SHARE:.0%}"
                return f"uses nothing this host holds and would move more than {share} of the image"
            return "would move no fewer bytes than the whole image"
        return whole_reason  # the swarm, by the tracker's scrape (no seeder, no answer)

    def _whole_image(self, manifest: Manifest) -> tuple[list[ImageSource], str, SwarmCounts | None]:
        swarm = [self._swarm] if self._swarm is not None and manifest.torrent else []
        if self._via == "http":
            return self._http, "--via http", None
        if self._via == "swarm":
            why = "--via swarm" if swarm else "--via swarm: the manifest has no torrent"
            return swarm, why, None
        if not swarm or manifest.torrent is None:
            return self._http, "no torrent: plain HTTP", None
        counts = self._scrape(manifest.torrent)
        if counts is None:
            return self._http, "tracker did not answer: plain HTTP", None
        size = f"{counts.complete} seeders, {counts.incomplete} leechers"
        if counts.complete == 0:
            return self._http, f"no seeder ({size}): plain HTTP", counts
        if counts.complete + counts.incomplete >= self._min_peers:
            return swarm + self._http, f"swarm first: {size}", counts
        return self._http + swarm, f"small swarm ({size}): HTTP first, swarm last", counts
