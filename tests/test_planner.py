"""`SourcePlanner`, rule by rule (its docstring), with fake sources and fake tracker scrapes.

The fakes are of our own protocols: a source that answers `estimate` as told and fails the test
if anyone tries to `fetch` from it (planning moves nothing), and a scrape that records what it
was asked and answers with fixed counts (or None: the tracker did not answer).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from client_fetch.errors import SourceUnavailable
from client_fetch.partial_file import PartialFile
from client_fetch.planner import Plan, SourcePlanner
from client_fetch.progress import Progress
from client_fetch.settings import ClientSettings
from client_fetch.sources.base import Estimate, FetchReport, ImageSource
from client_fetch.tracker_scrape import SwarmCounts
from image_format.manifest import Manifest, TorrentRef

SIZE = 1000
TORRENT = TorrentRef(sha256="d" * 64, size=321, info_hash_v1="a" * 40, info_hash_v2="b" * 64)


def manifest(*, torrent: TorrentRef | None = TORRENT) -> Manifest:
    return Manifest(
        name="img",
        version="1",
        size=SIZE,
        sha256="e" * 64,
        created="2026-01-01T00:00:00Z",
        torrent=torrent,
    )


@dataclass
class FakeSource:
    """An `ImageSource` whose estimate is fixed (None: it cannot serve); fetching fails the test."""

    name: str
    method: str
    bytes_to_move: int | None = SIZE
    local_bytes: int = 0
    writes_in_order: bool = True
    asked: list[tuple[str, int]] = field(default_factory=list)

    def estimate(self, manifest: Manifest, resume_offset: int) -> Estimate:
        self.asked.append((manifest.ref, resume_offset))
        if self.bytes_to_move is None:
            raise SourceUnavailable(self.name, "cannot serve (fake)")
        return Estimate(
            self.name, self.method, self.bytes_to_move, "fake", local_bytes=self.local_bytes
        )

    def fetch(
        self, manifest: Manifest, partial: PartialFile, progress: Progress, report: FetchReport
    ) -> None:
        raise AssertionError(f"planning must not fetch from {self.name}")


@dataclass
class FakeScrape:
    """The tracker's answer for every torrent (None: it did not answer); records the questions."""

    counts: SwarmCounts | None
    asked: list[TorrentRef] = field(default_factory=list)

    def __call__(self, torrent: TorrentRef) -> SwarmCounts | None:
        self.asked.append(torrent)
        return self.counts


def seeders(complete: int, incomplete: int = 0) -> FakeScrape:
    return FakeScrape(SwarmCounts(complete=complete, incomplete=incomplete, downloaded=0))


def servers(*names: str) -> list[ImageSource]:
    return [FakeSource(name, "http") for name in names]


def planner(
    via: str,
    scrape: FakeScrape,
    *,
    swarm: ImageSource | None = None,
    http: list[ImageSource] | None = None,
    updates: list[ImageSource] | None = None,
    min_peers: int = 2,
) -> SourcePlanner:
    return SourcePlanner(
        via,
        http if http is not None else servers("http://a.example", "http://b.example"),
        swarm if swarm is not None else FakeSource("swarm", "swarm"),
        scrape,
        min_peers,
        update_sources=updates or [],
    )


def names(plan: Plan) -> list[str]:
    return [source.name for source in plan.sources]


# -- --via auto: the whole image ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("complete", "incomplete", "min_peers"),
    [(1, 1, 2), (2, 0, 2), (1, 4, 5), (3, 0, 1)],
    ids=["seeder+leecher", "two-seeders", "exactly-min-peers", "min-peers-1"],
)
def test_a_seeder_and_enough_peers_put_the_swarm_first_then_every_server(
    complete: int, incomplete: int, min_peers: int
) -> None:
    scrape = seeders(complete, incomplete)
    plan = planner("auto", scrape, min_peers=min_peers).plan(manifest())
    assert names(plan) == ["swarm", "http://a.example", "http://b.example"]
    assert scrape.asked == [TORRENT]
    assert plan.swarm == scrape.counts
    assert plan.reason.startswith("swarm first")


def test_by_default_the_projects_seeder_alone_puts_the_swarm_first() -> None:
    """The first hosts of a crowd must join the swarm, or it never grows: a host fetching over
    HTTP is never a peer for the next one."""
    default = ClientSettings().swarm_min_peers
    plan = planner("auto", seeders(1, 0), min_peers=default).plan(manifest())
    assert names(plan)[0] == "swarm"


def test_a_seeder_but_fewer_peers_than_the_minimum_puts_http_first_and_the_swarm_last() -> None:
    plan = planner("auto", seeders(1, 0), min_peers=2).plan(manifest())
    assert names(plan) == ["http://a.example", "http://b.example", "swarm"]
    assert "small swarm" in plan.reason


@pytest.mark.parametrize("incomplete", [0, 50])
def test_no_seeder_is_plain_http_only_however_many_leechers(incomplete: int) -> None:
    plan = planner("auto", seeders(0, incomplete), min_peers=1).plan(manifest())
    assert names(plan) == ["http://a.example", "http://b.example"]
    assert "no seeder" in plan.reason
    assert plan.swarm is not None and plan.swarm.incomplete == incomplete


def test_a_tracker_that_does_not_answer_means_plain_http_only() -> None:
    scrape = FakeScrape(None)
    plan = planner("auto", scrape).plan(manifest())
    assert names(plan) == ["http://a.example", "http://b.example"]
    assert scrape.asked == [TORRENT]
    assert "tracker did not answer" in plan.reason and plan.swarm is None


def test_a_manifest_without_torrent_is_plain_http_and_the_tracker_is_not_asked() -> None:
    scrape = seeders(5, 5)
    plan = planner("auto", scrape).plan(manifest(torrent=None))
    assert names(plan) == ["http://a.example", "http://b.example"]
    assert scrape.asked == []
    assert "no torrent" in plan.reason


def test_without_a_swarm_source_auto_is_plain_http_and_the_tracker_is_not_asked() -> None:
    scrape = seeders(5, 5)
    plan = SourcePlanner("auto", servers("http://a.example"), None, scrape, 1).plan(manifest())
    assert names(plan) == ["http://a.example"]
    assert scrape.asked == []


# -- --via http / swarm / delta / chunks ----------------------------------------------------------


def test_via_http_uses_only_the_servers_in_order_and_never_asks_the_tracker() -> None:
    scrape = seeders(10, 10)
    delta = FakeSource("delta", "delta", bytes_to_move=10)
    plan = planner("http", scrape, updates=[delta]).plan(manifest())
    assert names(plan) == ["http://a.example", "http://b.example"]
    assert scrape.asked == [] and plan.reason == "--via http"


def test_via_swarm_uses_only_the_swarm_even_with_no_seeder_and_never_asks_the_tracker() -> None:
    scrape = seeders(0, 0)
    plan = planner("swarm", scrape).plan(manifest())
    assert names(plan) == ["swarm"]
    assert scrape.asked == [] and plan.reason == "--via swarm"


def test_via_swarm_without_a_torrent_plans_nothing_and_says_why() -> None:
    plan = planner("swarm", seeders(1, 1)).plan(manifest(torrent=None))
    assert plan.sources == []
    assert "no torrent" in plan.reason


@pytest.mark.parametrize("via", ["delta", "chunks"])
def test_via_an_update_method_uses_only_those_sources_smallest_first(via: str) -> None:
    big = FakeSource(f"{via}-big", via, bytes_to_move=SIZE * 2)
    small = FakeSource(f"{via}-small", via, bytes_to_move=100)
    other = FakeSource("other", "chunks" if via == "delta" else "delta", bytes_to_move=1)
    plan = planner(via, seeders(3, 3), updates=[big, other, small]).plan(manifest())
    # Forced: even a source that moves more than the image is tried, after the smaller one.
    assert names(plan) == [f"{via}-small", f"{via}-big"]
    assert plan.reason == f"--via {via}"


# -- update sources in auto -------------------------------------------------------------------


def test_update_sources_that_save_bytes_go_first_smallest_first_then_the_whole_image_rule() -> None:
    chunks = FakeSource("chunks", "chunks", bytes_to_move=400, local_bytes=600)
    delta = FakeSource("delta", "delta", bytes_to_move=30, local_bytes=SIZE)
    plan = planner("auto", seeders(2, 3), updates=[chunks, delta]).plan(manifest())
    assert names(plan) == ["delta", "chunks", "swarm", "http://a.example", "http://b.example"]
    assert plan.reason.startswith("delta: 30 of 1000 bytes to move; swarm first")


def test_chunks_without_donors_go_just_before_plain_http_when_they_halve_the_bytes() -> None:
    # A mostly free VM image: zero runs cost nothing and chunks travel compressed.
    lean = FakeSource("chunks", "chunks", bytes_to_move=SIZE // 2, local_bytes=0)
    plan = planner("auto", seeders(0), updates=[lean]).plan(manifest())
    assert names(plan) == ["chunks", "http://a.example", "http://b.example"]
    assert plan.reason == (
        "chunks: 500 of 1000 bytes to move, no donors needed; no seeder (0 seeders, 0 leechers): "
        "plain HTTP"
    )
    no_seeder = "no seeder (0 seeders, 0 leechers): plain HTTP"
    assert [(e.source, why) for e, why in plan.not_tried] == [("swarm", no_seeder)]
    # A swarm with peers still comes first (the hosts upload, not the origin); chunks after it.
    swarm_first = planner("auto", seeders(2, 3), updates=[lean]).plan(manifest())
    assert names(swarm_first) == ["swarm", "chunks", "http://a.example", "http://b.example"]
    assert swarm_first.reason.endswith("; then chunks: 500 of 1000 bytes to move")
    small_swarm = planner("auto", seeders(1), updates=[lean]).plan(manifest())
    assert names(small_swarm) == ["chunks", "http://a.example", "http://b.example", "swarm"]


def test_chunks_without_donors_saving_less_than_half_are_left_out() -> None:
    cold = FakeSource("chunks", "chunks", bytes_to_move=SIZE // 2 + 1, local_bytes=0)
    plan = planner("auto", seeders(0), updates=[cold]).plan(manifest())
    assert names(plan) == ["http://a.example", "http://b.example"]
    [why] = [why for estimate, why in plan.not_tried if estimate.source == "chunks"]
    assert why == "uses nothing this host holds and would move more than 50% of the image"


def test_update_sources_that_save_nothing_are_left_out_and_http_stays_last() -> None:
    whole = FakeSource("chunks", "chunks", bytes_to_move=SIZE, local_bytes=SIZE)
    plan = planner("auto", seeders(0), updates=[whole]).plan(manifest())
    assert names(plan) == ["http://a.example", "http://b.example"]
    assert plan.sources[-1].method == "http"


# -- estimates ------------------------------------------------------------------------------


def test_a_source_that_cannot_serve_is_left_out_and_reported_with_its_reason() -> None:
    broken = FakeSource("http://broken.example", "http", bytes_to_move=None)
    delta = FakeSource("delta", "delta", bytes_to_move=None)
    plan = planner(
        "auto", seeders(1, 1), http=[broken, *servers("http://b.example")], updates=[delta]
    ).plan(manifest())
    assert names(plan) == ["swarm", "http://b.example"]
    assert ("http://broken.example", "cannot serve (fake)") in plan.unavailable
    assert ("delta", "cannot serve (fake)") in plan.unavailable


def test_estimates_follow_the_planned_order_and_see_the_resume_offset() -> None:
    swarm = FakeSource("swarm", "swarm")
    http = FakeSource("http://c.example", "http", bytes_to_move=SIZE - 250)
    plan = planner("auto", seeders(1, 0), swarm=swarm, http=[http]).plan(manifest(), 250)
    assert [e.source for e in plan.estimates] == names(plan) == ["http://c.example", "swarm"]
    assert plan.estimates[0].bytes_to_move == SIZE - 250
    assert swarm.asked == [("img@1", 250)] and http.asked == [("img@1", 250)]
