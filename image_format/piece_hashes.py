"""SHA-256 piece hashes of a single-file v2 or hybrid torrent (BEP 52), to check pieces ourselves.

A v2 torrent hashes its file as a merkle tree over 16 KiB blocks (leaf = sha256 of the block;
leaves past the end of the file are 32 zero bytes; the tree is padded to a power of two). The
info dict holds the tree's root (`pieces root`); the torrent's `piece layers` hold, for a file
longer than one piece, the root of each piece's subtree. Since the torrent file's sha256 is in the
signed manifest, a piece whose blocks hash to its piece-layer entry is a piece of the published
image: checking every piece this way checks every byte, while the download runs, instead of one
whole-file pass after it.

Not responsible for reading files or for when pieces are checked (the fetcher's swarm source is).
Error contract: `piece_hashes_from_torrent` raises `PieceHashesUnavailable` for a v1-only torrent
and `TorrentMalformed` when the v2 part is missing pieces, the wrong shape, or inconsistent (a
piece layer that does not hash to its root); both are `ImageFormatError`s.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

from image_format.bencode import BencodeError, BencodeValue, bdecode
from image_format.errors import ImageFormatError

BLOCK_BYTES = 16 << 10
HASH_BYTES = 32
_ZERO_LEAF = bytes(HASH_BYTES)


class TorrentMalformed(ImageFormatError):
    """The torrent's v2 part cannot be read or does not add up."""


class PieceHashesUnavailable(ImageFormatError):
    """The torrent has no v2 (SHA-256) part: a v1-only torrent."""


@dataclass(frozen=True)
class PieceHashes:
    """The expected SHA-256 merkle root of every piece of one file, and the file's geometry."""

    piece_length: int
    file_length: int
    hashes: tuple[bytes, ...]

    @property
    def piece_count(self) -> int:
        return len(self.hashes)

    def span(self, index: int) -> tuple[int, int]:
        """(offset, length) of piece `index` in the file."""
        offset = index * self.piece_length
        return offset, min(self.piece_length, self.file_length - offset)

    def matches(self, index: int, data: bytes) -> bool:
        """Whether `data` is exactly piece `index`. An all-zero piece is compared with zeros
        (the only bytes with its hash), which costs a memory compare instead of hashing."""
        length = self.span(index)[1]
        if len(data) != length:
            return False
        if self.is_zero(index):
            return data == bytes(length)
        return piece_root(data, self._leaves_per_piece()) == self.hashes[index]

    def is_zero(self, index: int) -> bool:
        """Whether piece `index` is all zero bytes (its hash is that of zeros)."""
        return self.hashes[index] == _zero_root(self.span(index)[1], self._leaves_per_piece())

    def zero_pieces(self) -> list[int]:
        """The pieces whose content is all zero bytes (a sparse file already holds them)."""
        return [index for index in range(self.piece_count) if self.is_zero(index)]

    def _leaves_per_piece(self) -> int:
        if self.file_length <= self.piece_length:  # one piece: the tree is the file's own
            return _next_power_of_two(_blocks(self.file_length))
        return self.piece_length // BLOCK_BYTES


@functools.lru_cache(maxsize=64)
def _zero_root(length: int, leaf_count: int) -> bytes:
    """The root of a piece of `length` zero bytes (a torrent has two lengths at most)."""
    return piece_root(bytes(length), leaf_count)


def piece_root(data: bytes, leaf_count: int) -> bytes:
    """The merkle root over `data`'s 16 KiB blocks, padded with zero leaves to `leaf_count`."""
    view = memoryview(data)
    leaves = [
        hashlib.sha256(view[start : start + BLOCK_BYTES]).digest()
        for start in range(0, len(data), BLOCK_BYTES)
    ]
    return merkle_root(leaves, leaf_count, _ZERO_LEAF)


def merkle_root(nodes: list[bytes], width: int, pad: bytes) -> bytes:
    """The root of a binary sha256 tree whose lowest layer is `nodes` padded with `pad` to
    `width` (a power of two ≥ len(nodes)); `pad` is the root of an all-padding subtree."""
    if width < len(nodes) or width & (width - 1):
        raise ValueError(f"width {width} is not a power of two ≥ {len(nodes)}")
    layer = list(nodes)
    while width > 1:
        if len(layer) % 2:
            layer.append(pad)
        layer = [hashlib.sha256(layer[i] + layer[i + 1]).digest() for i in range(0, len(layer), 2)]
        pad = hashlib.sha256(pad + pad).digest()
        width //= 2
    return layer[0] if layer else pad


def piece_hashes_from_torrent(torrent: bytes) -> PieceHashes:
    """The piece hashes of a single-file v2/hybrid torrent, checked against its pieces root."""
    try:
        decoded = bdecode(torrent, sorted_keys=False)
    except BencodeError as exc:
        raise TorrentMalformed(f"not bencoded: {exc}") from exc
    top = _dict(decoded, "torrent")
    info = _dict(top.get(b"info"), "info")
    tree = info.get(b"file tree")
    if tree is None:
        raise PieceHashesUnavailable("the torrent has no v2 file tree (a v1-only torrent)")
    piece_length = _int(info.get(b"piece length"), "piece length")
    if piece_length < BLOCK_BYTES or piece_length & (piece_length - 1):
        raise TorrentMalformed(f"piece length {piece_length} is not a power of two ≥ 16 KiB")
    length, root = _single_file(tree)
    if length == 0:
        return PieceHashes(piece_length, 0, ())
    if length <= piece_length:
        return PieceHashes(piece_length, length, (root,))
    layers = _dict(top.get(b"piece layers"), "piece layers")
    layer = layers.get(root)
    count = -(-length // piece_length)
    if not isinstance(layer, bytes) or len(layer) != count * HASH_BYTES:
        raise TorrentMalformed(f"the piece layer does not hold {count} hashes")
    hashes = tuple(layer[i : i + HASH_BYTES] for i in range(0, len(layer), HASH_BYTES))
    empty_piece = merkle_root([], piece_length // BLOCK_BYTES, _ZERO_LEAF)
    if merkle_root(list(hashes), _next_power_of_two(count), empty_piece) != root:
        raise TorrentMalformed("the piece layer does not hash to the file's pieces root")
    return PieceHashes(piece_length, length, hashes)


def _single_file(tree: BencodeValue) -> tuple[int, bytes]:
    """(length, pieces root) of the only file in a v2 file tree."""
    node = _dict(tree, "file tree")
    while b"" not in node:
        if len(node) != 1:
            raise TorrentMalformed("expected a single-file torrent")
        node = _dict(next(iter(node.values())), "file tree")
    entry = _dict(node[b""], "file entry")
    length = _int(entry.get(b"length"), "file length")
    root = entry.get(b"pieces root", b"")
    if length and (not isinstance(root, bytes) or len(root) != HASH_BYTES):
        raise TorrentMalformed("the file has no 32-byte pieces root")
    return length, root if isinstance(root, bytes) else b""


def _dict(value: BencodeValue | None, what: str) -> dict[bytes, BencodeValue]:
    if not isinstance(value, dict):
        raise TorrentMalformed(f"{what} is not a dictionary")
    return value


def _int(value: BencodeValue | None, what: str) -> int:
    if not isinstance(value, int) or value < 0:
        raise TorrentMalformed(f"{what} is not a non-negative integer")
    return value


def _blocks(length: int) -> int:
    return max(1, -(-length // BLOCK_BYTES))


def _next_power_of_two(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())
