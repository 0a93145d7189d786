"""Leaving a swarm: `SwarmSession.remove` returns once the trackers answered `stopped`, gives up
on a tracker that does not answer, and does not wait for a listen address that cannot reach the
tracker at all.

A real libtorrent session announces to a fake tracker of our own that answers `stopped` late, or
never. Without the wait, libtorrent sends `stopped` on its own after the torrent is gone, and
closing the session then took ~100 ms, which every fetch paid on its way out; and a tracker that
has not yet seen `stopped` goes on handing out a peer that left.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from swarm import session as session_module
from swarm.config import SwarmConfig
from swarm.download import TRACKER_SETTLE_SECONDS
from swarm.session import SwarmSession
from swarm.torrent import reaching_endpoints
from swarm.torrent_maker import make_torrent
from tests.swarm_helpers import loopback_session

PIECE = 64 << 10


class SlowStopTracker:
    """Answers every announce with no peers; `stopped` only after `stop_delay_seconds`. Records
    (event, time answered, address) for each answer, just before sending it. Announces from the
    address `deaf_to` are never answered (held until the tracker stops): an interface with no way
    to it. Those from `slow_from[0]` other than `stopped` are answered `slow_from[1]` s late."""

    def __init__(
        self,
        host: str,
        stop_delay_seconds: float,
        deaf_to: str | None = None,
        slow_from: tuple[str, float] | None = None,
    ) -> None:
        self.answered: list[tuple[str, float, str]] = []
        self._closing = threading.Event()
        tracker = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                address = self.client_address[0]
                if address == deaf_to:
                    tracker._closing.wait()
                    return
                event = "stopped" if "event=stopped" in self.path else "other"
                if event == "stopped":
                    time.sleep(stop_delay_seconds)
                elif slow_from is not None and address == slow_from[0]:
                    time.sleep(slow_from[1])
                body = b"d8:intervali60e5:peers0:e"
                # Recorded before the answer leaves: a client may act on it (and a test look)
                # before this thread runs again.
                tracker.answered.append((event, time.monotonic(), address))
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the client gave up waiting
                    self.wfile.write(body)

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://{host}:{self._server.server_port}/announce"

    @contextmanager
    def running(self) -> Iterator[SlowStopTracker]:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._closing.set()
            self._server.shutdown()
            self._server.server_close()

    def events(self, name: str) -> list[float]:
        return [moment for event, moment, _ in self.answered if event == name]

    def addresses(self, name: str) -> list[str]:
        return [address for event, _, address in self.answered if event == name]


def _seed_and_wait_for_started(session: object, tracker: SlowStopTracker, tmp_path: Path) -> object:
    image = tmp_path / "image"
    image.write_bytes(random.Random(5).randbytes(16 * PIECE))
    made = make_torrent(image, name="img", announce_url=tracker.url, piece_length=PIECE)
    torrent = session.add_seed(made.data, image)  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while len(tracker.events("other")) < 2:  # a hybrid torrent announces both of its hashes
        assert time.monotonic() < deadline, "the torrent never announced"
        time.sleep(0.02)
    while torrent.announcing():
        assert time.monotonic() < deadline, "the torrent's announce never settled"
        time.sleep(0.01)
    return torrent


@pytest.mark.parametrize("stop_delay_seconds", [0.0, 0.3])
def test_remove_returns_after_the_tracker_answered_stopped(
    tmp_path: Path, stop_delay_seconds: float
) -> None:
    with (
        SlowStopTracker("127.0.0.91", stop_delay_seconds).running() as tracker,
        loopback_session(92) as session,
    ):
        torrent = _seed_and_wait_for_started(session, tracker, tmp_path)
        session.remove(torrent)  # type: ignore[arg-type]
        returned = time.monotonic()
        stopped = tracker.events("stopped")
        assert len(stopped) == 2  # both hashes
        assert max(stopped) <= returned
        assert session.torrents() == []


def test_remove_gives_up_on_a_tracker_that_does_not_answer_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(session_module, "STOP_ANNOUNCE_SECONDS", 0.3)
    with (
        SlowStopTracker("127.0.0.93", stop_delay_seconds=30).running() as tracker,
        loopback_session(94) as session,
    ):
        torrent = _seed_and_wait_for_started(session, tracker, tmp_path)
        started = time.monotonic()
        session.remove(torrent)  # type: ignore[arg-type]
        assert time.monotonic() - started < 5  # not the tracker's 30 s
        assert tracker.events("stopped") == []
        assert session.torrents() == []


def test_remove_does_not_wait_for_a_listen_address_that_cannot_reach_the_tracker(
    tmp_path: Path,
) -> None:
    """Listening on 0.0.0.0 means one announce per local address; one on an interface with no way
    to the tracker (a VM host-only network, say) stays in flight until libtorrent gives up.
    Leaving used to wait `STOP_ANNOUNCE_SECONDS` for it (and a download's finish as long again)."""
    config = SwarmConfig(
        listen_interfaces="127.0.0.95:0,127.0.0.96:0", allow_multiple_connections_per_ip=True
    )
    with (
        SlowStopTracker(
            "127.0.0.97", stop_delay_seconds=0.0, deaf_to="127.0.0.96"
        ).running() as tracker,
        SwarmSession(config) as session,
    ):
        torrent = _seed_and_wait_for_started(session, tracker, tmp_path)
        started = time.monotonic()
        session.remove(torrent)
        assert time.monotonic() - started < session_module.STOP_ANNOUNCE_SECONDS
        assert len(tracker.events("stopped")) == 2  # both hashes, from the address that reaches it
        assert session.torrents() == []


def test_a_slower_listen_address_that_reaches_the_tracker_is_still_waited_for(
    tmp_path: Path,
) -> None:
    """A download done before one of its addresses had the tracker's first answer: the finish
    waits for that answer (libtorrent sends `stopped` only from answered addresses), so leaving
    sends `stopped` from both and neither stays registered at the tracker."""
    image = tmp_path / "image"
    image.write_bytes(random.Random(7).randbytes(16 * PIECE))
    config = SwarmConfig(
        listen_interfaces="127.0.0.85:0,127.0.0.86:0", allow_multiple_connections_per_ip=True
    )
    with (
        SlowStopTracker("127.0.0.87", 0.0, slow_from=("127.0.0.86", 0.5)).running() as tracker,
        loopback_session(88) as seeding,
        SwarmSession(config) as fetching,
    ):
        made = make_torrent(image, name="img", announce_url=tracker.url, piece_length=PIECE)
        seeding.add_seed(made.data, image)
        torrent = fetching.add_download(made.data, tmp_path / "out", web_seeds=False)
        torrent.connect_peer("127.0.0.88", seeding.listen_port)
        deadline = time.monotonic() + 10
        while not torrent.finished:
            assert time.monotonic() < deadline, "the download never finished"
            time.sleep(0.01)
        settle_by = time.monotonic() + TRACKER_SETTLE_SECONDS  # as a download's finish does
        while not torrent.trackers_settled() and time.monotonic() < settle_by:
            time.sleep(0.01)
        fetching.remove(torrent)
        assert "127.0.0.86" in tracker.addresses("other")
        assert sorted(set(tracker.addresses("stopped"))) == ["127.0.0.85", "127.0.0.86"]


def _endpoint(*, start_sent: bool, updating: bool) -> dict[str, object]:
    state = {"start_sent": start_sent, "updating": updating, "complete_sent": False}
    return {"local_address": ("192.0.2.1", 6881), "info_hashes": [state, dict(state)]}


def test_endpoints_never_answered_are_left_out_once_another_was_answered_in_time() -> None:
    answered = _endpoint(start_sent=True, updating=False)
    silent = _endpoint(start_sent=False, updating=True)
    assert reaching_endpoints([silent, answered], grace_over=True) == [answered]
    # Within the grace the silent one may just be slower: still waited for.
    assert reaching_endpoints([silent, answered], grace_over=False) == [silent, answered]


def test_every_endpoint_counts_while_none_was_answered() -> None:
    """A slow tracker: the first announces are all still in flight, so all are waited for."""
    first = _endpoint(start_sent=False, updating=True)
    second = _endpoint(start_sent=False, updating=True)
    assert reaching_endpoints([first, second], grace_over=True) == [first, second]
    assert reaching_endpoints([], grace_over=True) == []
