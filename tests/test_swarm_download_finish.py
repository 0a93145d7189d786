"""When `download_file` calls a download done: every wanted piece verified, not every byte written.

libtorrent counts a piece's blocks in `total_wanted_done` once they are written, before the piece's
hash is checked. A download whose last piece is written but unchecked (or about to fail its check)
is not done. A fake session drives `download_file` through those states; the real race needs a
libtorrent hash check slower than one poll, which a loaded machine gives now and then (it made
`test_swarm_tail_fetch`'s liar test see a "finished" download of wrong bytes).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from swarm.config import SwarmConfig
from swarm.download import download_file
from swarm.errors import SwarmStalled
from swarm.status import TorrentStatus
from tests.swarm_helpers import downloading_status

SIZE = 4 << 20
PIECES = 64


class ScriptedTorrent:
    """A torrent whose statuses follow a script; the last status repeats."""

    key = "fake"

    def __init__(self, script: list[TorrentStatus]) -> None:
        self.script = script
        self.polls = 0

    def status(self) -> TorrentStatus:
        self.polls += 1
        return self.script[min(self.polls, len(self.script)) - 1]

    def have_pieces(self) -> list[bool]:
        return [self.status().is_finished] * PIECES

    def settle_alerts(self, max_seconds: float) -> None:
        pass

    def trackers_settled(self) -> bool:
        return True

    @property
    def finished(self) -> bool:
        return self.status().is_finished


class ScriptedSession:
    """What `download_file` asks of a `SwarmSession`: one join of a `ScriptedTorrent`."""

    def __init__(self, torrent: ScriptedTorrent) -> None:
        self.config = SwarmConfig(listen_interfaces="127.0.0.1:0")
        self.torrent = torrent

    def add_download(self, *args: object, **kwargs: object) -> ScriptedTorrent:
        return self.torrent

    def remove(self, torrent: ScriptedTorrent) -> None:
        pass


WRITTEN_UNCHECKED = downloading_status(total_wanted=SIZE, total_done=SIZE)
VERIFIED = replace(WRITTEN_UNCHECKED, is_finished=True, state="seeding", is_seeding=True)


def _download(torrent: ScriptedTorrent, tmp_path: Path, stall_seconds: float) -> None:
    download_file(
        ScriptedSession(torrent),  # type: ignore[arg-type]
        b"unused by the fake",
        tmp_path / "image",
        stall_timeout_seconds=stall_seconds,
    )


def test_every_byte_written_is_not_done_until_the_pieces_verify(tmp_path: Path) -> None:
    torrent = ScriptedTorrent([WRITTEN_UNCHECKED] * 5 + [VERIFIED])
    _download(torrent, tmp_path, stall_seconds=30)
    assert torrent.polls > 5  # it waited through the unchecked polls


def test_a_last_piece_that_never_verifies_is_a_stall_not_a_download(tmp_path: Path) -> None:
    torrent = ScriptedTorrent([WRITTEN_UNCHECKED])
    with pytest.raises(SwarmStalled):
        _download(torrent, tmp_path, stall_seconds=0.5)


def test_complete_needs_verified_pieces_and_every_wanted_byte() -> None:
    assert VERIFIED.complete
    assert not WRITTEN_UNCHECKED.complete
    assert not replace(VERIFIED, total_done=SIZE - 1).complete
    assert not replace(VERIFIED, total_wanted=0, total_done=0).complete
