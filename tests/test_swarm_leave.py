"""Leaving a swarm: `SwarmSession.remove` returns once the trackers answered `stopped`, and gives
up on a tracker that does not answer.

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
from swarm.torrent_maker import make_torrent
from tests.swarm_helpers import loopback_session

PIECE = 64 << 10


class SlowStopTracker:
    """Answers every announce with no peers; `stopped` only after `stop_delay_seconds`. Records
    (event, time answered) for each answer, just before sending it."""

    def __init__(self, host: str, stop_delay_seconds: float) -> None:
        self.answered: list[tuple[str, float]] = []
        tracker = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                event = "stopped" if "event=stopped" in self.path else "other"
                if event == "stopped":
                    time.sleep(stop_delay_seconds)
                body = b"d8:intervali60e5:peers0:e"
                # Recorded before the answer leaves: a client may act on it (and a test look)
                # before this thread runs again.
                tracker.answered.append((event, time.monotonic()))
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
            self._server.shutdown()
            self._server.server_close()

    def events(self, name: str) -> list[float]:
        return [moment for event, moment in self.answered if event == name]


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
