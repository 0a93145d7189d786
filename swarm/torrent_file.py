"""Parsing .torrent bytes into libtorrent's `torrent_info`, with our checks and errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import libtorrent as lt

from swarm.errors import TorrentInvalid

_ZERO_V2 = "0" * 64


@dataclass(frozen=True)
class ParsedTorrent:
    """A parsed single-file torrent: libtorrent's `torrent_info` and its hex info-hashes."""

    info: Any
    info_hash_v1: str | None
    info_hash_v2: str | None
    name: str
    total_size: int
    piece_length: int
    web_seeds: tuple[str, ...]

    @property
    def key(self) -> str:
        """The hash that names this torrent in our records: v1 when present, else v2."""
        return self.info_hash_v1 or self.info_hash_v2 or ""


def parse_torrent(data: bytes) -> ParsedTorrent:
    """Raise `TorrentInvalid` unless `data` is a valid single-file torrent."""
    try:
        info = lt.torrent_info(data)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise TorrentInvalid(f"not a torrent file: {exc}") from exc
    if not info.is_valid():
        raise TorrentInvalid("not a torrent file")
    if info.num_files() != 1:
        raise TorrentInvalid(f"expected a single-file torrent, got {info.num_files()} files")
    hashes = info.info_hashes()
    v1 = str(hashes.v1) if hashes.has_v1() else None
    v2 = str(hashes.v2) if hashes.has_v2() else None
    return ParsedTorrent(
        info=info,
        info_hash_v1=v1,
        info_hash_v2=v2 if v2 != _ZERO_V2 else None,
        name=info.name(),
        total_size=info.total_size(),
        piece_length=info.piece_length(),
        web_seeds=tuple(_web_seed_urls(data)),
    )


def _web_seed_urls(data: bytes) -> list[str]:
    decoded: Any = lt.bdecode(data)
    raw = decoded.get(b"url-list") if isinstance(decoded, dict) else None
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    return [item.decode("utf-8", "replace") for item in items if isinstance(item, bytes)]
