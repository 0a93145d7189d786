"""Making a single-file torrent of an image: piece size rule, hybrid v1+v2 or v1 only.

The file is read by libtorrent's `set_piece_hashes` piece by piece (bounded memory). Torrents are
deterministic (no creation date, no creator), so the same file, name and URLs always make the same
bytes and so the same content address.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import libtorrent as lt

from swarm.errors import TorrentMakingFailed
from swarm.torrent_file import parse_torrent

TorrentFormat = Literal["hybrid", "v1"]

MIN_PIECE_LENGTH = 128 << 10
MAX_PIECE_LENGTH = 16 << 20
TARGET_MAX_PIECES = 2048
MAX_NAME_BYTES = 255
"""A torrent's name is the file name clients save it under: one path component."""


def piece_length_for(size_bytes: int) -> int:
    """The piece length for a file of `size_bytes`: the smallest power of two that keeps the
    torrent at or below 2048 pieces, clamped to 128 KiB … 16 MiB.

    So 8 MiB → 128 KiB (64 pieces), 256 MiB → 128 KiB (2048), 1 GiB → 512 KiB (2048), 5 GiB →
    4 MiB (1280), 10 GiB → 8 MiB (1280); from 256 MiB to 32 GiB a torrent has 1024 to 2048
    pieces, and its .torrent (20 bytes of v1 hash plus 32 of v2 piece layer per piece) stays
    ≤ ~110 KB. A power of two is what hybrid (v2) torrents require (≥ 16 KiB).
    Why not larger: a host announces a piece only once it holds all of it, so until then other
    hosts may fetch the same piece from the origin. Why not more pieces: each costs every host
    some CPU (hashing, HAVE messages to each peer, alerts). Measured (bench.swarm, 256 MiB,
    100 Mbit; ratios of the bound): N=8, 256 KiB pieces → 1.17-1.19x, origin 1.05·S; 128 KiB →
    1.14-1.15x, 1.04·S; 64 KiB → 1.14-1.15x too. N=16 (17 processes on 2 CPUs), of the bound of
    the non-zero bytes: 256 KiB → 1.64-1.65x, 128 KiB → 1.63-1.68x, 64 KiB → 1.78-1.79x.
    """
    if size_bytes < 0:
        raise ValueError("size_bytes must not be negative")
    wanted = -(-size_bytes // TARGET_MAX_PIECES)  # ceiling division
    length = MIN_PIECE_LENGTH
    while length < wanted and length < MAX_PIECE_LENGTH:
        length *= 2
    return length


@dataclass(frozen=True)
class MadeTorrent:
    """A torrent file and what the manifest says about it. Hashes are lowercase hex."""

    data: bytes
    sha256: str
    info_hash_v1: str | None
    info_hash_v2: str | None
    piece_length: int
    name: str
    format: TorrentFormat


def make_torrent(
    path: Path,
    *,
    name: str,
    announce_url: str | None,
    web_seeds: Sequence[str] = (),
    private: bool = True,
    torrent_format: TorrentFormat = "hybrid",
    piece_length: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> MadeTorrent:
    """Hash `path` into a single-file torrent named `name`.

    `web_seeds` are BEP 19 URLs of the file itself. `on_progress(pieces_done, pieces_total)` is
    called from libtorrent's hashing loop. Raises `TorrentMakingFailed` when the file cannot be read
    and `ValueError` for a bad piece length, name or format.
    """
    if torrent_format not in ("hybrid", "v1"):
        raise ValueError(f"unknown torrent format {torrent_format!r}")
    if not name or "/" in name or name in (".", ".."):
        raise ValueError(f"a torrent name must be a plain file name, not {name!r}")
    if len(name.encode()) > MAX_NAME_BYTES:
        raise ValueError(f"a torrent name is at most {MAX_NAME_BYTES} bytes, not {name!r}")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise TorrentMakingFailed(f"cannot read {path}: {exc}") from exc
    length = piece_length or piece_length_for(size)
    if length < 16 << 10 or length & (length - 1):
        raise ValueError(f"piece length {length} is not a power of two ≥ 16 KiB")
    flags = lt.create_torrent.v1_only if torrent_format == "v1" else 0
    creator = lt.create_torrent([lt.create_file_entry(name, size)], length, flags)
    creator.set_creation_date(0)
    creator.set_priv(private)
    if announce_url:
        creator.add_tracker(announce_url)
    for url in web_seeds:
        creator.add_url_seed(url)
    pieces = creator.num_pieces()
    _hash_pieces(creator, path, name, pieces, on_progress)
    try:
        data: bytes = lt.bencode(creator.generate())
    except RuntimeError as exc:
        raise TorrentMakingFailed(f"cannot generate the torrent of {path}: {exc}") from exc
    parsed = parse_torrent(data)
    return MadeTorrent(
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        info_hash_v1=parsed.info_hash_v1,
        info_hash_v2=parsed.info_hash_v2,
        piece_length=length,
        name=name,
        format=torrent_format,
    )


def _hash_pieces(
    creator: lt.create_torrent,
    path: Path,
    name: str,
    pieces: int,
    on_progress: Callable[[int, int], None] | None,
) -> None:
    # libtorrent reads <base>/<name>; a symlink gives the content-addressed file that name.
    with tempfile.TemporaryDirectory(prefix="torrent-make-") as base:
        try:
            (Path(base) / name).symlink_to(path.resolve())
        except OSError as exc:
            raise TorrentMakingFailed(f"cannot name {path} {name!r} to hash it: {exc}") from exc

        def progress(piece: int) -> None:
            if on_progress is not None:
                on_progress(piece + 1, pieces)

        try:
            lt.set_piece_hashes(creator, base, progress)
        except RuntimeError as exc:
            raise TorrentMakingFailed(f"cannot hash {path}: {exc}") from exc
