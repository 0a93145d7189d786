"""A volunteer's `client-fetch seed` announces again at once when the distributor's tracker
restarted (it keeps its peers in memory) or the distributor is back after an outage, instead of
being missing from the tracker until libtorrent's next announce, up to 300 s later."""

from __future__ import annotations

import re

import httpx

from client_fetch.tracker_restarts import CHECK_SECONDS, TrackerRestarts
from image_format.content_paths import tracker_instance_path
from tests.fixtures.distributor_server import RunningDistributor


class Distributor:
    """The distributor's instance endpoint as the volunteer sees it: an instance, or an outage."""

    def __init__(self) -> None:
        self.instance = "a"
        self.down = False
        self.asked = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.asked += 1
        if self.down:
            return httpx.Response(503)
        return httpx.Response(200, json={"tracker_instance": self.instance})


def _watching(distributor: Distributor) -> tuple[TrackerRestarts, list[float], list[float]]:
    now = [0.0]
    announced: list[float] = []
    client = httpx.Client(transport=httpx.MockTransport(distributor.handle))
    restarts = TrackerRestarts(
        client, ["http://distributor"], lambda: announced.append(now[0]), clock=lambda: now[0]
    )
    return restarts, announced, now


def test_a_new_instance_makes_the_volunteer_announce_and_checks_are_spaced() -> None:
    distributor = Distributor()
    restarts, announced, now = _watching(distributor)
    restarts.tick()
    restarts.tick()  # within the period: no request
    assert distributor.asked == 1 and announced == []
    distributor.instance = "b"  # the distributor restarted
    now[0] = CHECK_SECONDS
    restarts.tick()
    assert distributor.asked == 2 and announced == [CHECK_SECONDS]


def test_the_end_of_an_outage_makes_the_volunteer_announce() -> None:
    distributor = Distributor()
    restarts, announced, now = _watching(distributor)
    restarts.tick()
    distributor.down = True
    for minute in (1, 2):
        now[0] = minute * CHECK_SECONDS
        restarts.tick()  # no answer: nothing to do yet
    assert announced == []
    distributor.down = False  # back, same instance: its announces may have failed meanwhile
    now[0] = 3 * CHECK_SECONDS
    restarts.tick()
    assert announced == [3 * CHECK_SECONDS]


def test_the_distributor_names_its_tracker_instance(distributor: RunningDistributor) -> None:
    first = httpx.get(distributor.url + tracker_instance_path(), timeout=10)
    second = httpx.get(distributor.url + tracker_instance_path(), timeout=10)
    assert first.status_code == 200 and first.headers["cache-control"] == "no-store"
    instance = first.json()["tracker_instance"]
    assert re.fullmatch(r"[0-9a-f]{32}", instance) and second.json() == first.json()
    announced: list[str] = []
    answers: list[tuple[str, int]] = []

    def answered(response: httpx.Response) -> None:
        answers.append((str(response.url), response.status_code))

    with httpx.Client(event_hooks={"response": [answered]}) as client:
        restarts = TrackerRestarts(
            client, ["http://127.0.0.1:1", distributor.url], lambda: announced.append("x")
        )
        restarts.tick()  # the first server is down: the next one answers, nothing to redo
    assert answers == [(distributor.url + tracker_instance_path(), 200)] and announced == []


def test_a_check_asks_no_further_server_once_its_budget_is_spent() -> None:
    now = [0.0]
    asked: list[str] = []

    def slow_mirror(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.host)
        now[0] += 3.0  # each server takes 3 s to say it is not a distributor
        return httpx.Response(404)

    client = httpx.Client(transport=httpx.MockTransport(slow_mirror))
    servers = ["http://one", "http://two", "http://three"]
    TrackerRestarts(client, servers, lambda: None, clock=lambda: now[0]).tick()
    assert asked == ["one", "two"]  # 6 s spent: the third is not asked (budget 5 s)
