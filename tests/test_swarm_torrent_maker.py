"""Torrent making: the piece-size rule, hybrid and v1 formats, determinism, web seeds, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarm.errors import TorrentInvalid, TorrentMakingFailed
from swarm.torrent_file import parse_torrent
from swarm.torrent_maker import make_torrent, piece_length_for
from tests.support import make_image

KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (0, 128 * KiB),
        (1, 128 * KiB),
        (8 * MiB, 128 * KiB),
        (256 * MiB, 128 * KiB),
        (256 * MiB + 1, 256 * KiB),
        (512 * MiB, 256 * KiB),
        (1 * GiB, 512 * KiB),
        (5 * GiB, 4 * MiB),
        (10 * GiB, 8 * MiB),
        (32 * GiB, 16 * MiB),
        (1 << 40, 16 * MiB),
    ],
)
def test_piece_length_rule(size: int, expected: int) -> None:
    assert piece_length_for(size) == expected


@pytest.mark.parametrize("size", [300 * MiB, 1 * GiB, 3 * GiB + 5, 10 * GiB, 30 * GiB])
def test_images_from_256_mib_to_32_gib_have_1024_to_2048_pieces(size: int) -> None:
    length = piece_length_for(size)
    assert length & (length - 1) == 0
    assert 1024 <= -(-size // length) <= 2048


def test_hybrid_torrent_has_both_hashes_private_web_seeds_and_is_deterministic(
    tmp_path: Path,
) -> None:
    image = tmp_path / "blob"
    make_image(image, 3 * MiB + 123)
    seeds = ["http://a.example/v1/blobs/sha256/x", "http://b.example/v1/blobs/sha256/x"]
    made = make_torrent(
        image, name="debian@1.img", announce_url="http://t.example/announce", web_seeds=seeds
    )
    again = make_torrent(
        image, name="debian@1.img", announce_url="http://t.example/announce", web_seeds=seeds
    )
    assert made.data == again.data and made.sha256 == again.sha256
    assert made.info_hash_v1 and len(made.info_hash_v1) == 40
    assert made.info_hash_v2 and len(made.info_hash_v2) == 64
    parsed = parse_torrent(made.data)
    assert parsed.name == "debian@1.img"
    assert parsed.total_size == 3 * MiB + 123
    assert parsed.web_seeds == tuple(seeds)
    assert parsed.info.priv()
    assert made.piece_length == 128 * KiB


def test_v1_torrent_has_only_the_v1_hash(tmp_path: Path) -> None:
    image = tmp_path / "blob"
    make_image(image, 1 * MiB)
    made = make_torrent(image, name="x.img", announce_url=None, torrent_format="v1")
    assert made.info_hash_v1 and made.info_hash_v2 is None
    assert b"piece layers" not in made.data


def test_progress_is_reported_and_errors_are_ours(tmp_path: Path) -> None:
    image = tmp_path / "blob"
    make_image(image, 2 * MiB)
    seen: list[tuple[int, int]] = []
    make_torrent(
        image, name="x.img", announce_url=None, on_progress=lambda d, t: seen.append((d, t))
    )
    assert seen and seen[-1] == (16, 16)  # 2 MiB in 128 KiB pieces
    with pytest.raises(TorrentMakingFailed):
        make_torrent(tmp_path / "missing", name="x.img", announce_url=None)
    with pytest.raises(ValueError):
        make_torrent(image, name="a/b", announce_url=None)
    with pytest.raises(ValueError):
        make_torrent(image, name="x.img", announce_url=None, piece_length=300 * KiB)
    with pytest.raises(TorrentInvalid):
        parse_torrent(b"not a torrent")


def test_a_name_no_file_system_takes_is_refused_before_hashing(tmp_path: Path) -> None:
    image = tmp_path / "img"
    make_image(image, 1 << 20)
    with pytest.raises(ValueError, match="at most 255 bytes"):
        make_torrent(image, name="x" * 256, announce_url=None)
    assert make_torrent(image, name="x" * 255, announce_url=None).name == "x" * 255


def test_patch_torrent_names_always_fit_a_file_name() -> None:
    from distributor.deltas.publish_step import patch_torrent_name

    assert patch_torrent_name("deb", "1", "2", "ab" * 32) == "deb-1-to-2.delta"
    longest = patch_torrent_name("n" * 128, "f" * 64, "v" * 64, "ab" * 32)
    assert len(longest.encode()) <= 255
    assert longest == f"{'n' * 128}-{'v' * 64}-{'ab' * 8}.delta"
