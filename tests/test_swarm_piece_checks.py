"""Checking swarm pieces while they arrive (`PieceChecker`) instead of hashing the whole file after.

Unit tests of the checker on files (pieces matched, pieces not on disk yet, a damaged piece, an
unreadable file), and a real swarm download on loopback whose partial records the digest its
pieces proved, so the fetcher's verifier does not read the file again.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from client_fetch import verifier
from client_fetch.backoff import Backoff
from client_fetch.manifest_client import ManifestClient
from client_fetch.partial_file import PartialFile
from client_fetch.piece_checker import PieceChecker
from client_fetch.progress import Progress
from client_fetch.sources.base import FetchReport
from client_fetch.sources.swarm_source import SwarmSource, _piece_hashes
from image_format.envelope import load_public_keys
from image_format.names import ImageRef
from image_format.piece_hashes import PieceHashes, piece_hashes_from_torrent
from swarm.config import SwarmConfig
from swarm.torrent_maker import make_torrent
from tests.fixtures.distributor_server import RunningDistributor, publish
from tests.support import make_image
from tests.swarm_helpers import sha256_file, zero_piece_bytes

PIECE = 64 << 10


def _hashes(path: Path, data: bytes, torrent_format: str = "hybrid") -> PieceHashes:
    path.write_bytes(data)
    made = make_torrent(
        path, name="x.img", announce_url=None, piece_length=PIECE,
        torrent_format=torrent_format,  # type: ignore[arg-type]
    )  # fmt: skip
    return piece_hashes_from_torrent(made.data)


def test_pieces_checked_as_they_come_and_late_ones_at_finish(tmp_path: Path) -> None:
    data = os.urandom(7 * PIECE + 123)
    hashes = _hashes(tmp_path / "source", data)
    target = tmp_path / "partial"
    target.write_bytes(bytes(len(data)))  # nothing written yet: sparse, all zero
    checker = PieceChecker(target, hashes)
    checker.submit([0, 1, 2])  # reported before they reach the disk: no verdict yet
    with target.open("r+b") as handle:
        handle.write(data)
    checker.submit(range(3, hashes.piece_count))
    assert checker.finish()


def test_a_damaged_piece_is_not_proven(tmp_path: Path) -> None:
    data = os.urandom(4 * PIECE)
    hashes = _hashes(tmp_path / "source", data)
    damaged = bytearray(data)
    damaged[2 * PIECE + 5] ^= 0x40
    target = tmp_path / "partial"
    target.write_bytes(bytes(damaged))
    checker = PieceChecker(target, hashes)
    checker.submit(range(hashes.piece_count))
    assert not checker.finish()


def test_all_zero_pieces_match_as_holes_or_written_zeros_and_nothing_else(tmp_path: Path) -> None:
    zero = bytes(PIECE)
    data = os.urandom(PIECE) + zero + zero + os.urandom(PIECE) + zero
    hashes = _hashes(tmp_path / "source", data)
    assert hashes.zero_pieces() == [1, 2, 4]
    sparse = tmp_path / "sparse"  # pieces 1, 2 and 4 never written: holes
    with sparse.open("wb") as handle:
        handle.write(data[:PIECE])
        handle.seek(3 * PIECE)
        handle.write(data[3 * PIECE : 4 * PIECE])
        handle.truncate(len(data))
    written = tmp_path / "written"  # the same bytes, every zero written out
    written.write_bytes(data)
    for target in (sparse, written):
        checker = PieceChecker(target, hashes)
        checker.submit(range(hashes.piece_count))
        assert checker.finish(), target
    stray = bytearray(data)  # a zero piece holding one non-zero byte is not proven
    stray[2 * PIECE + 77] = 1
    (tmp_path / "stray").write_bytes(bytes(stray))
    checker = PieceChecker(tmp_path / "stray", hashes)
    checker.submit(range(hashes.piece_count))
    assert not checker.finish()
    short = tmp_path / "short"  # the last zero piece past the end of the file: not proven
    short.write_bytes(data[: 4 * PIECE])
    checker = PieceChecker(short, hashes)
    checker.submit(range(hashes.piece_count))
    assert not checker.finish()


def test_a_missing_file_or_a_bad_index_is_not_proven(tmp_path: Path) -> None:
    hashes = _hashes(tmp_path / "source", os.urandom(2 * PIECE))
    checker = PieceChecker(tmp_path / "absent", hashes)
    checker.submit([0, 1])
    with pytest.raises(ValueError):
        checker.submit([2])
    assert not checker.finish()
    checker.close()  # idempotent after finish


def test_a_v1_torrent_or_another_size_gets_no_piece_hashes(tmp_path: Path) -> None:
    data = os.urandom(2 * PIECE)
    (tmp_path / "f").write_bytes(data)
    v1 = make_torrent(tmp_path / "f", name="x.img", announce_url=None, torrent_format="v1")
    hybrid = make_torrent(tmp_path / "f", name="x.img", announce_url=None)
    assert _piece_hashes(v1.data, len(data)) is None
    assert _piece_hashes(hybrid.data, len(data) + 1) is None
    hashes = _piece_hashes(hybrid.data, len(data))
    assert hashes is not None
    checker = PieceChecker(tmp_path / "f", hashes)
    checker.submit([0])
    assert checker.finish()


def test_a_partial_with_a_checked_digest_skips_the_whole_file_hash(tmp_path: Path) -> None:
    path = tmp_path / "partial"
    partial = PartialFile(path)
    partial.open_unordered(4)
    path.write_bytes(b"abcd")
    assert partial.running_digest() is None
    partial.record_checked_digest("d" * 64)
    partial.close()
    assert partial.running_digest() == "d" * 64
    partial.open_unordered(4)  # a new attempt proves nothing yet
    assert partial.running_digest() is None
    partial.close()


def test_a_swarm_download_proves_every_piece_and_is_not_hashed_again(
    distributor: RunningDistributor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = tmp_path / "image.img"
    make_image(image, 6 * (1 << 20) + 999, seed=71)
    with image.open("r+b") as handle:  # zero pieces (more than the image's own): sparse holes
        handle.seek(1 << 20)
        handle.write(bytes(512 << 10))
    digest = sha256_file(image)
    publish(distributor, "pieces", "1.0", image)
    with httpx.Client(trust_env=False, timeout=30) as client:
        backoff = Backoff(0.1, 0.2)
        keys = load_public_keys(distributor.public_key)
        manifests = ManifestClient(client, [distributor.url], keys, backoff, 1)
        manifest = manifests.get(ImageRef.parse("pieces@1.0")).manifest
        config = SwarmConfig(
            listen_interfaces="127.0.0.61:0",
            outgoing_interface="127.0.0.61",
            allow_multiple_connections_per_ip=True,
            web_seed_fallback_seconds=None,  # no seeder here: the web seed serves every piece
        )
        source = SwarmSource(
            [distributor.url], client, config,
            stall_timeout_seconds=20, resume_path=lambda d: tmp_path / f"{d}.resume",
        )  # fmt: skip
        partial = PartialFile(tmp_path / "download.partial")
        report = FetchReport()
        with partial:
            partial.open_unordered(manifest.size)
            source.fetch(manifest, partial, Progress("x", manifest.size), report)
    assert partial.running_digest() == digest
    assert report.total == manifest.size - zero_piece_bytes(image)  # zero pieces never moved

    def no_whole_file_hash(*args: object, **kwargs: object) -> None:
        raise AssertionError("the verifier re-read a file whose pieces were all proven")

    monkeypatch.setattr(verifier, "hash_file", no_whole_file_hash)
    verifier.verify_partial(manifest, partial, None)
    assert partial.path.read_bytes() == image.read_bytes()
