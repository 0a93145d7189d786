"""A restarted distributor's tracker knows no peer: the seeder announces every torrent at once
when its report answer names a new tracker, or when the catalog is reachable again after an
outage, rather than after libtorrent's 300 s (or its back-off after failed announces)."""

from __future__ import annotations

import random
import time
from pathlib import Path

import httpx

from distributor.tracker.config import TrackerConfig
from distributor.tracker.service import Tracker
from distributor.tracker.torrent_index import TorrentIndex
from image_format.content_paths import seeder_report_path
from seeder.reporter import Reporter
from swarm.torrent_maker import make_torrent
from swarm.tracker_watch import TrackerMemoryWatch
from tests.fakes.tracker_stub import stub_tracker
from tests.fixtures.distributor_server import RunningDistributor
from tests.swarm_helpers import loopback_session
from tests.test_tracker_service import HYBRID


class Watched:
    def __init__(self) -> None:
        self.now = 0.0
        self.announced: list[float] = []
        self.watch = TrackerMemoryWatch(
            lambda: self.announced.append(self.now), min_gap_seconds=60, clock=lambda: self.now
        )


def test_a_new_tracker_instance_makes_the_seeder_announce_the_first_one_does_not() -> None:
    seeder = Watched()
    seeder.watch.after_report(True, "a")  # the first one seen: nothing to redo
    seeder.watch.after_report(True, "a")
    seeder.watch.after_report(True, None)  # an older distributor says nothing
    seeder.watch.after_report(False, "b")  # a refused report tells nothing either
    assert seeder.announced == []
    seeder.now = 100.0
    seeder.watch.after_report(True, "b")
    assert seeder.announced == [100.0]
    seeder.now = 110.0
    seeder.watch.after_report(True, "b")
    assert seeder.announced == [100.0]


def test_an_ended_catalog_outage_makes_the_seeder_announce_at_most_once_a_minute() -> None:
    seeder = Watched()
    seeder.watch.after_outage()
    seeder.now = 10.0
    seeder.watch.after_outage()  # a flapping link
    seeder.watch.after_report(True, "a")
    seeder.now = 20.0
    seeder.watch.after_report(True, "b")  # two distributors answering in turn
    assert seeder.announced == [0.0]
    seeder.now = 61.0
    seeder.watch.after_report(True, "a")
    assert seeder.announced == [0.0, 61.0]


def test_every_tracker_has_its_own_instance() -> None:
    index = TorrentIndex([("img", "1", HYBRID)])
    first, second = Tracker(index, TrackerConfig()), Tracker(index, TrackerConfig())
    assert first.instance_id != second.instance_id


class NothingSeeded:
    def seeding(self) -> list[object]:
        return []


def test_the_reporter_reads_the_tracker_instance_from_the_report_answer(
    distributor: RunningDistributor,
) -> None:
    reporter = Reporter(
        distributor.url,
        "seeder-1",
        distributor.token,
        NothingSeeded(),
        10.0,  # type: ignore[arg-type]
    )
    assert reporter.tracker_instance is None
    assert reporter.report("10.5.0.9:7000") is True
    answer = httpx.post(
        distributor.url + seeder_report_path("seeder-1"),
        json=reporter.build("10.5.0.9:7000").model_dump(mode="json"),
        headers={"Authorization": f"Bearer {distributor.token}"},
        timeout=10,
    )
    instance = answer.json()["tracker_instance"]
    assert reporter.tracker_instance == instance and len(instance) == 32


WITH_MIN_INTERVAL = b"d8:intervali60e12:min intervali60e5:peers0:e"


def test_reannounce_all_announces_at_once_even_within_the_min_interval(tmp_path: Path) -> None:
    image = tmp_path / "image"
    image.write_bytes(random.Random(5).randbytes(256 << 10))
    with (
        stub_tracker("127.0.0.81", WITH_MIN_INTERVAL) as tracker,
        loopback_session(82) as session,
    ):
        asked = tracker.asked
        made = make_torrent(image, name="img", announce_url=tracker.url, piece_length=64 << 10)
        torrent = session.add_seed(made.data, image)
        deadline = time.monotonic() + 10
        while len(asked) < 2 or torrent.announcing():  # both hashes of the hybrid, answered
            assert time.monotonic() < deadline, "the tracker was never asked"
            time.sleep(0.02)
        before = len(asked)
        session.reannounce_all()
        deadline = time.monotonic() + 5
        while len(asked) < before + 2:
            assert time.monotonic() < deadline, "no announce within 5 s of reannounce_all"
            time.sleep(0.02)


def test_an_announce_held_back_by_the_gap_is_made_at_the_next_sighting_after_it() -> None:
    seeder = Watched()
    seeder.watch.saw_instance("a")
    seeder.watch.after_outage()  # announces at 0
    seeder.now = 10.0
    seeder.watch.saw_instance("b")  # restarted again: held back by the gap
    seeder.now = 30.0
    seeder.watch.saw_instance("b")
    assert seeder.announced == [0.0]
    seeder.now = 70.0
    seeder.watch.saw_instance("b")  # the same instance, but an announce is owed
    seeder.now = 200.0
    seeder.watch.saw_instance("b")
    assert seeder.announced == [0.0, 70.0]
