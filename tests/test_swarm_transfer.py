"""Real libtorrent peers on loopback: seed → download, web seed only, a corrupted seeder."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarm.download import download_file
from swarm.errors import SwarmStalled
from swarm.torrent_maker import TorrentFormat, make_torrent
from tests.support import make_image
from tests.swarm_helpers import RangeServer, sessions, sha256_file

SIZE = 8 * (1 << 20) + 4321


@pytest.mark.parametrize("torrent_format", ["hybrid", "v1"])
def test_download_from_a_seed_into_the_target_file(
    tmp_path: Path, torrent_format: TorrentFormat
) -> None:
    image = tmp_path / "seed" / "blob"
    image.parent.mkdir()
    digest = make_image(image, SIZE)
    made = make_torrent(image, name="img", announce_url=None, torrent_format=torrent_format)
    assert (made.info_hash_v2 is not None) == (torrent_format == "hybrid")
    target = tmp_path / "cache" / "downloads" / f"{digest}.partial"
    target.parent.mkdir(parents=True)
    with sessions(2, 3) as (seeder, leecher):
        seeding = seeder.add_seed(made.data, image)
        report = download_file(
            leecher,
            made.data,
            target,
            stall_timeout_seconds=20,
            on_added=lambda t: t.connect_peer("127.0.0.2", seeder.listen_port),
        )
        assert sha256_file(target) == digest
        assert sorted(p.name for p in target.parent.iterdir()) == [target.name]
        assert report.bytes_from_peers - report.redundant_bytes == SIZE
        assert report.bytes_from_web_seeds == 0
        assert report.hash_failures == 0
        status = seeding.status()
        assert status.is_seeding and status.uploaded_bytes >= SIZE
        assert status.info_hash_v1 == made.info_hash_v1


def test_web_seed_alone_completes(tmp_path: Path) -> None:
    image = tmp_path / "blob"
    digest = make_image(image, SIZE)
    target = tmp_path / "out.partial"
    with RangeServer(image, "127.0.0.9") as web, sessions(4) as (leecher,):
        made = make_torrent(image, name="img", announce_url=None, web_seeds=[web.url])
        report = download_file(leecher, made.data, target, stall_timeout_seconds=20)
    assert sha256_file(target) == digest
    assert report.bytes_from_web_seeds - report.redundant_bytes == SIZE
    assert report.bytes_from_peers == 0
    assert web.bytes_sent >= SIZE


def test_corrupted_seeder_gives_hash_failures_but_the_download_completes(tmp_path: Path) -> None:
    good, bad = tmp_path / "good", tmp_path / "bad"
    digest = make_image(good, SIZE)
    made = make_torrent(good, name="img", announce_url=None)
    bad.write_bytes(good.read_bytes())
    target = tmp_path / "out.partial"
    with sessions(5, 6, 7) as (good_seeder, bad_seeder, leecher):
        good_seeder.add_seed(made.data, good)
        # Checked while intact (no seed mode), then corrupted under libtorrent's feet: it now
        # serves bad bytes it believes are good.
        checked = bad_seeder.add_seed(made.data, bad, seed_mode=False)
        _wait_seeding(checked)
        with bad.open("r+b") as handle:
            for offset in range(0, SIZE, 64 << 10):
                handle.seek(offset)
                handle.write(b"\xff" * 1024)

        def connect(t: object) -> None:
            t.connect_peer("127.0.0.6", bad_seeder.listen_port)  # type: ignore[attr-defined]
            t.connect_peer("127.0.0.5", good_seeder.listen_port)  # type: ignore[attr-defined]

        report = download_file(
            leecher, made.data, target, stall_timeout_seconds=30, on_added=connect
        )
    assert sha256_file(target) == digest
    assert report.hash_failures > 0


def test_no_source_at_all_stalls(tmp_path: Path) -> None:
    image = tmp_path / "blob"
    make_image(image, 1 << 20)
    made = make_torrent(image, name="img", announce_url=None)
    with sessions(8) as (leecher,), pytest.raises(SwarmStalled):
        download_file(leecher, made.data, tmp_path / "out.partial", stall_timeout_seconds=2)


def _wait_seeding(torrent: object, timeout: float = 20) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if torrent.status().is_seeding:  # type: ignore[attr-defined]
            return
        time.sleep(0.1)
    raise AssertionError("the seeder never finished checking its file")


def test_a_rejoin_forgets_bans_but_keeps_verified_pieces(tmp_path: Path) -> None:
    """Resume data carries libtorrent's banned peers; a torrent re-added from it (a rejoin after
    a failed piece, or the fetcher's next round) must not inherit them, nor lose pieces."""
    import libtorrent as lt

    image = tmp_path / "blob"
    make_image(image, SIZE)
    made = make_torrent(image, name="img", announce_url=None)
    target = tmp_path / "out.partial"
    with sessions(9, 10) as (seeder, leecher):
        seeder.add_seed(made.data, image)
        download_file(
            leecher,
            made.data,
            target,
            stall_timeout_seconds=20,
            on_added=lambda t: t.connect_peer("127.0.0.9", seeder.listen_port),
        )
        checked = leecher.add_download(made.data, target)  # no resume data: checks the file
        _wait_seeding(checked)
        resume = checked.save_resume_data() or b""
    pieces = -(-SIZE // made.piece_length)
    params = lt.read_resume_data(resume)
    assert sum(params.have_pieces) == pieces
    params.banned_peers = [("127.0.0.66", 6881)]
    with_bans = lt.write_resume_data_buf(params)
    with sessions(11) as (again,):
        torrent = again.add_download(made.data, target, resume_data=bytes(with_bans))
        _wait_seeding(torrent)
        saved = lt.read_resume_data(torrent.save_resume_data() or b"")
    assert saved.banned_peers == []
    assert sum(saved.have_pieces) == pieces


def test_zero_pieces_of_a_fresh_download_never_cross_the_network(tmp_path: Path) -> None:
    image = tmp_path / "seed" / "blob"
    image.parent.mkdir()
    make_image(image, SIZE)
    piece = 256 << 10
    with image.open("r+b") as handle:  # pieces 3 and 4 all zero
        handle.seek(3 * piece)
        handle.write(bytes(2 * piece))
    made = make_torrent(image, name="img", announce_url=None, piece_length=piece)
    for existing in (b"", b"x"):  # a file with data in it is checked by libtorrent instead
        target = tmp_path / f"out{len(existing)}.partial"
        target.write_bytes(existing)
        with sessions(12, 13) as (seeder, leecher):
            seeder.add_seed(made.data, image)
            report = download_file(
                leecher,
                made.data,
                target,
                stall_timeout_seconds=20,
                on_added=lambda t: t.connect_peer("127.0.0.12", seeder.listen_port),
                zero_pieces=[3, 4],
            )
        assert target.read_bytes() == image.read_bytes()
        moved = report.bytes_from_peers - report.redundant_bytes
        assert moved == (SIZE - 2 * piece if not existing else SIZE), moved
