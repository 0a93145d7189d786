"""Errors of the swarm layer: libtorrent's exceptions and error alerts, mapped to our own.

Callers catch these and never a libtorrent type; every one carries a readable message.
"""

from __future__ import annotations


class SwarmError(Exception):
    """Base of everything `swarm` raises."""


class TorrentInvalid(SwarmError):
    """The .torrent bytes do not parse, or are not the single-file torrent we expect."""


class TorrentMakingFailed(SwarmError):
    """Hashing the file into a torrent failed (unreadable file, I/O error)."""


class SwarmStalled(SwarmError):
    """A download made no progress (bytes done did not grow) for `seconds`."""

    def __init__(self, seconds: float, total_done: int, total_wanted: int) -> None:
        super().__init__(f"no progress for {seconds:.0f} s at {total_done} of {total_wanted} bytes")
        self.seconds = seconds
        self.total_done = total_done
        self.total_wanted = total_wanted


class SwarmFailed(SwarmError):
    """libtorrent reported an error for a torrent (file error, torrent error)."""

    def __init__(self, info_hash: str, message: str) -> None:
        super().__init__(f"torrent {info_hash}: {message}")
        self.info_hash = info_hash
        self.message = message


class SwarmStopped(SwarmError):
    """A download was asked to stop (`should_stop` returned True) before it completed."""


class RangeUnavailable(SwarmError):
    """A byte range of a torrent's file could not be read from outside the swarm (HTTP)."""

    def __init__(self, offset: int, length: int, reason: str) -> None:
        super().__init__(f"bytes {offset}+{length}: {reason}")
        self.offset = offset
        self.length = length
        self.reason = reason
