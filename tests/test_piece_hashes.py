"""`image_format.piece_hashes` against torrents libtorrent made: every piece of the real file
matches, a changed byte does not, and bad torrents raise typed errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from image_format.bencode import bdecode, bencode
from image_format.piece_hashes import (
    BLOCK_BYTES,
    PieceHashesUnavailable,
    TorrentMalformed,
    merkle_root,
    piece_hashes_from_torrent,
)
from swarm.torrent_maker import make_torrent

KiB = 1 << 10
PIECE = 64 * KiB


def _torrent(path: Path, data: bytes, torrent_format: str = "hybrid") -> bytes:
    path.write_bytes(data)
    made = make_torrent(
        path,
        name="x.img",
        announce_url=None,
        piece_length=PIECE,
        torrent_format=torrent_format,  # type: ignore[arg-type]
    )
    return made.data


@pytest.mark.parametrize(
    "size",
    [1, BLOCK_BYTES, BLOCK_BYTES + 1, 3 * BLOCK_BYTES, PIECE, PIECE + 1, 5 * PIECE + 7 * KiB + 3],
)
def test_every_piece_of_the_file_matches_and_a_changed_byte_does_not(
    tmp_path: Path, size: int
) -> None:
    data = os.urandom(size)
    hashes = piece_hashes_from_torrent(_torrent(tmp_path / "f", data))
    assert hashes.file_length == size
    assert hashes.piece_count == -(-size // PIECE)
    for index in range(hashes.piece_count):
        offset, length = hashes.span(index)
        piece = data[offset : offset + length]
        assert hashes.matches(index, piece)
        flipped = bytearray(piece)
        flipped[len(piece) // 2] ^= 1
        assert not hashes.matches(index, bytes(flipped))
        assert not hashes.matches(index, piece[:-1])
    if hashes.piece_count > 1:
        assert not hashes.matches(0, data[PIECE : 2 * PIECE])


def test_zero_pieces_are_found_and_matched_by_comparing_with_zeros(tmp_path: Path) -> None:
    data = bytes(PIECE) + os.urandom(PIECE) + bytes(PIECE + 5)  # the last piece: 5 zero bytes
    hashes = piece_hashes_from_torrent(_torrent(tmp_path / "f", data))
    assert hashes.zero_pieces() == [0, 2, 3]
    assert [hashes.is_zero(i) for i in range(4)] == [True, False, True, True]
    assert hashes.matches(0, bytes(PIECE)) and hashes.matches(3, bytes(5))
    assert not hashes.matches(0, b"\x01" + bytes(PIECE - 1))
    assert not hashes.matches(3, bytes(6)) and not hashes.matches(1, bytes(PIECE))


def test_a_v1_torrent_has_no_piece_hashes(tmp_path: Path) -> None:
    with pytest.raises(PieceHashesUnavailable):
        piece_hashes_from_torrent(_torrent(tmp_path / "f", os.urandom(PIECE), "v1"))


def test_a_piece_layer_that_does_not_hash_to_the_root_is_refused(tmp_path: Path) -> None:
    torrent = bdecode(_torrent(tmp_path / "f", os.urandom(3 * PIECE)), sorted_keys=False)
    assert isinstance(torrent, dict)
    layers = torrent[b"piece layers"]
    assert isinstance(layers, dict)
    root, layer = next(iter(layers.items()))
    assert isinstance(layer, bytes)
    layers[root] = bytes(32) + layer[32:]
    with pytest.raises(TorrentMalformed, match="pieces root"):
        piece_hashes_from_torrent(bencode(torrent))
    layers[root] = layer[:-1]
    with pytest.raises(TorrentMalformed, match="3 hashes"):
        piece_hashes_from_torrent(bencode(torrent))


def test_garbage_is_malformed() -> None:
    with pytest.raises(TorrentMalformed):
        piece_hashes_from_torrent(b"not bencoding")
    with pytest.raises(TorrentMalformed):
        piece_hashes_from_torrent(bencode({"info": 3}))


def test_merkle_root_pads_with_the_given_subtree() -> None:
    leaf = b"\x01" * 32
    pad = bytes(32)
    assert merkle_root([leaf], 1, pad) == leaf
    assert merkle_root([leaf, pad], 2, pad) == merkle_root([leaf], 2, pad)
    assert merkle_root([leaf] * 3 + [pad] * 5, 8, pad) == merkle_root([leaf] * 3, 8, pad)
    with pytest.raises(ValueError):
        merkle_root([leaf] * 3, 2, pad)


def test_zero_pieces_are_found_by_their_hash(tmp_path: Path) -> None:
    tail = 7 * KiB + 3
    data = bytes(PIECE) + os.urandom(PIECE) + bytes(2 * PIECE) + os.urandom(PIECE) + bytes(tail)
    hashes = piece_hashes_from_torrent(_torrent(tmp_path / "f", data))
    assert hashes.zero_pieces() == [0, 2, 3, 5]
    assert (
        piece_hashes_from_torrent(_torrent(tmp_path / "g", os.urandom(PIECE))).zero_pieces() == []
    )
