"""Tail fetches: the last pieces no peer offers us are read over HTTP (`TailFetch`).

The rule is tested on a fake torrent (which pieces are missing, which an unchoking peer offers);
the mechanics on a real libtorrent session with no peer at all, reading ranges from a real HTTP
server through the fetcher's `BlobRangeReader`: right bytes complete the download, wrong bytes are
a hash failure and never reach the file as a finished piece.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from client_fetch.sources.blob_ranges import BlobRangeReader
from client_fetch.trust import TrustStore
from swarm.config import SwarmConfig
from swarm.download import download_file
from swarm.download_watch import TailFetch
from swarm.errors import RangeUnavailable, SwarmStalled
from swarm.torrent_maker import make_torrent
from tests.swarm_helpers import RangeServer, downloading_status, loopback_session, sha256_file

PIECE = 64 << 10
PIECES = 64
ANY_DIGEST = "0" * 64  # the test servers serve their one file at any path
CONFIG = SwarmConfig(listen_interfaces="127.0.0.1:0")


class FakeTorrent:
    """What `TailFetch` asks of a `SwarmTorrent`, with the answers a test sets."""

    def __init__(self, missing: list[int], offered: set[int] | None) -> None:
        self.missing = missing
        self.offered = offered
        self.added: dict[int, bytes] = {}
        self.delivered_by_swarm: set[int] = set()

    def missing_pieces(self) -> list[int]:
        return [index for index in self.missing if index not in self.added]

    def has_piece(self, index: int) -> bool:
        return index in self.added or index in self.delivered_by_swarm

    def pieces_offered(self) -> set[int] | None:
        return self.offered

    def piece_span(self, index: int) -> tuple[int, int]:
        return index * PIECE, PIECE

    def add_piece(self, index: int, data: bytes) -> None:
        self.added[index] = data


class RecordingReader:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[int, int]] = []
        self.fail = fail

    def __call__(self, offset: int, length: int) -> bytes:
        self.calls.append((offset, length))
        if self.fail:
            raise RangeUnavailable(offset, length, "no server")
        return bytes([offset // PIECE % 256]) * length


def _check(
    tail: TailFetch,
    torrent: FakeTorrent,
    remaining: int,
    stalled_seconds: float,
    wanted: int = PIECES * PIECE,
) -> bool:
    status = downloading_status(total_wanted=wanted, total_done=wanted - remaining)
    return tail.check(torrent, status, 100.0, 100.0 + stalled_seconds)  # type: ignore[arg-type]


def test_only_stuck_pieces_no_unchoking_peer_offers_are_read_once_each() -> None:
    reader = RecordingReader()
    tail = TailFetch(CONFIG, reader)
    torrent = FakeTorrent(missing=[3, 7, 9], offered={7})

    assert _check(tail, torrent, 3 * PIECE, 0.3)
    assert reader.calls == [(3 * PIECE, PIECE), (9 * PIECE, PIECE)]  # 7 comes from a peer
    assert torrent.added == {3: bytes([3]) * PIECE, 9: bytes([9]) * PIECE}
    assert tail.bytes_fetched == 2 * PIECE

    torrent.added.clear()  # as if both failed libtorrent's hash check: not read again
    torrent.offered = set()
    assert _check(tail, torrent, 3 * PIECE, 5.0)
    assert reader.calls[2:] == [(7 * PIECE, PIECE)]
    assert not _check(tail, torrent, 3 * PIECE, 10.0)


BIG = 1 << 30


@pytest.mark.parametrize(
    ("remaining", "wanted", "stalled_seconds", "offered"),
    [
        (CONFIG.tail_fetch_bytes + 1, BIG, 10.0, set()),  # too much left: the swarm's job
        (PIECES * PIECE // 10, PIECES * PIECE, 10.0, set()),  # a tenth of the file: no tail yet
        (PIECE, BIG, CONFIG.tail_fetch_stall_seconds / 2, set()),  # bytes arrived just now
        (PIECE, BIG, 10.0, {3}),  # an unchoking peer has it
        (PIECE, BIG, 10.0, None),  # a web seed is connected
        (0, BIG, 10.0, set()),  # nothing left
    ],
)
def test_no_tail_fetch_while_the_swarm_can_still_deliver(
    remaining: int, wanted: int, stalled_seconds: float, offered: set[int] | None
) -> None:
    reader = RecordingReader()
    torrent = FakeTorrent([3], offered)
    assert not _check(TailFetch(CONFIG, reader), torrent, remaining, stalled_seconds, wanted)
    assert reader.calls == []
    stuck = FakeTorrent([3], set())  # the same download, stuck in its tail: fetched
    assert _check(TailFetch(CONFIG, reader), stuck, PIECE, 10.0, wanted)


def test_no_reader_or_zero_bytes_means_never() -> None:
    torrent = FakeTorrent([3], set())
    assert not _check(TailFetch(CONFIG, None), torrent, PIECE, 10.0)
    off = SwarmConfig(listen_interfaces="127.0.0.1:0", tail_fetch_bytes=0)
    reader = RecordingReader()
    assert not _check(TailFetch(off, reader), torrent, PIECE, 10.0)
    assert reader.calls == []


def test_a_piece_the_swarm_delivered_during_an_earlier_read_is_not_read() -> None:
    torrent = FakeTorrent([3, 5, 9], set())

    def slow_read(offset: int, length: int) -> bytes:  # meanwhile a peer delivers piece 5
        torrent.delivered_by_swarm.add(5)
        return reader(offset, length)

    reader = RecordingReader()
    tail = TailFetch(CONFIG, slow_read)
    assert _check(tail, torrent, 3 * PIECE, 1.0)
    assert reader.calls == [(3 * PIECE, PIECE), (9 * PIECE, PIECE)]
    assert set(torrent.added) == {3, 9}


def test_an_unreadable_range_is_skipped_and_left_to_the_swarm() -> None:
    reader = RecordingReader(fail=True)
    tail = TailFetch(CONFIG, reader)
    torrent = FakeTorrent([3], set())
    assert not _check(tail, torrent, PIECE, 1.0)
    assert reader.calls == [(3 * PIECE, PIECE)] and torrent.added == {}
    assert tail.bytes_fetched == 0


# --- a real session, no peers: the last pieces can only come by HTTP -------------------------


def _published_and_partial(tmp_path: Path, missing: int) -> tuple[Path, Path, bytes]:
    """A random image without zero pieces, and a partial copy whose last `missing` pieces are
    zeros; and the image's torrent (no tracker, no web seeds)."""
    published = tmp_path / "published"
    data = random.Random(7).randbytes(PIECES * PIECE)
    published.write_bytes(data)
    partial = tmp_path / "partial"
    keep = (PIECES - missing) * PIECE
    partial.write_bytes(data[:keep] + bytes(len(data) - keep))
    made = make_torrent(published, name="img", announce_url=None, piece_length=PIECE)
    return published, partial, made.data


def test_the_last_pieces_arrive_over_http_when_no_peer_has_them(tmp_path: Path) -> None:
    published, partial, torrent = _published_and_partial(tmp_path, missing=2)
    with RangeServer(published, "127.0.0.81") as server:
        base = server.url.removesuffix("/v1/blobs/sha256/web-seed")
        reader = BlobRangeReader(
            ["http://127.0.0.81:1", base],  # the first server is down: the next one serves
            sha256_file(published),
            connect_timeout_seconds=2,
            stall_timeout_seconds=5,
            tls_context=TrustStore().context,
        )
        with loopback_session(82) as session:
            report = download_file(
                session, torrent, partial, stall_timeout_seconds=20, read_range=reader
            )
    assert sha256_file(partial) == sha256_file(published)
    assert report.bytes_from_web_seeds == 2 * PIECE
    assert report.bytes_from_peers == 0
    assert server.bytes_sent == 2 * PIECE


def test_wrong_bytes_over_http_are_a_hash_failure_and_the_download_stalls(tmp_path: Path) -> None:
    published, partial, torrent = _published_and_partial(tmp_path, missing=1)
    liar = tmp_path / "liar"  # a mirror with other bytes in the last piece
    data = published.read_bytes()
    liar.write_bytes(data[:-PIECE] + bytes(b ^ 0xFF for b in data[-PIECE:]))
    with RangeServer(liar, "127.0.0.83") as server:
        reader = BlobRangeReader(
            [server.url.removesuffix("/v1/blobs/sha256/web-seed")],
            sha256_file(published),
            connect_timeout_seconds=2,
            stall_timeout_seconds=5,
            tls_context=TrustStore().context,
        )
        with loopback_session(84) as session, pytest.raises(SwarmStalled):
            download_file(session, torrent, partial, stall_timeout_seconds=2, read_range=reader)
    assert server.requests == 1  # read once, not again after the hash failure
    assert partial.read_bytes()[-PIECE:] != data[-PIECE:]


def test_the_range_reader_refuses_a_whole_body_or_a_short_one(tmp_path: Path) -> None:
    blob = tmp_path / "blob"
    blob.write_bytes(random.Random(3).randbytes(4 * PIECE))
    with RangeServer(blob, "127.0.0.85") as server:
        base = server.url.removesuffix("/v1/blobs/sha256/web-seed")
        reader = BlobRangeReader(
            [base],
            ANY_DIGEST,
            connect_timeout_seconds=2,
            stall_timeout_seconds=5,
            tls_context=TrustStore().context,
        )
        assert reader(PIECE, PIECE) == blob.read_bytes()[PIECE : 2 * PIECE]
        with pytest.raises(RangeUnavailable, match="ended after"):
            reader(3 * PIECE, 2 * PIECE)  # past the end: the server sends what there is
    with RangeServer(blob, "127.0.0.86", ignore_range=True) as whole:
        base = whole.url.removesuffix("/v1/blobs/sha256/web-seed")
        reader = BlobRangeReader(
            [base],
            ANY_DIGEST,
            connect_timeout_seconds=2,
            stall_timeout_seconds=5,
            tls_context=TrustStore().context,
        )
        with pytest.raises(RangeUnavailable, match="HTTP 200 for a range request"):
            reader(PIECE, PIECE)
    with pytest.raises(RangeUnavailable, match="no server configured"):
        BlobRangeReader(
            [],
            ANY_DIGEST,
            connect_timeout_seconds=1,
            stall_timeout_seconds=1,
            tls_context=TrustStore().context,
        )(0, 1)


def test_pieces_offered_counts_only_peers_that_unchoke_us(tmp_path: Path) -> None:
    """Two real hosts with complementary halves: `giver` unchokes `miser`, which unchokes nobody
    (no upload slots). The giver's pieces are offered to the miser; the miser's are not offered
    to the giver, whose last pieces a tail fetch would then read over HTTP. Uploads are slowed so
    neither finishes while the test looks."""
    data = random.Random(9).randbytes(PIECES * PIECE)
    published = tmp_path / "published"
    published.write_bytes(data)
    half = PIECES // 2 * PIECE
    (tmp_path / "giver").write_bytes(data[:half] + bytes(half))
    (tmp_path / "miser").write_bytes(bytes(half) + data[half:])
    torrent = make_torrent(published, name="img", announce_url=None, piece_length=PIECE).data
    slow = {"upload_rate_limit_bytes_per_second": 16 << 10, "rate_limit_local_peers": True}
    with (
        loopback_session(87, **slow) as giver_session,
        loopback_session(88, unchoke_slots_limit=0, **slow) as miser_session,
    ):
        giver = giver_session.add_download(torrent, tmp_path / "giver", web_seeds=False)
        miser = miser_session.add_download(torrent, tmp_path / "miser", web_seeds=False)
        first_half, second_half = set(range(PIECES // 2)), set(range(PIECES // 2, PIECES))
        deadline = time.monotonic() + 20
        while miser.pieces_offered() != first_half:
            assert time.monotonic() < deadline, "the giver never unchoked the miser"
            if not giver.status().num_peers:
                giver.connect_peer("127.0.0.88", miser_session.listen_port)
            time.sleep(0.1)
        assert giver.pieces_offered() == set()  # connected, holding what it lacks, but choking
        assert set(giver.missing_pieces()) == second_half
