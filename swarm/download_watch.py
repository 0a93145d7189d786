"""What a running `download_file` watches for, besides progress: when to add the web seeds, when
to leave the swarm and join again, which pieces became held, and when to fetch the last pieces
outside the swarm.

Not responsible for the download loop itself (`swarm.download`). Nothing here raises except
`RejoinNeeded`, which tells the loop to re-add the torrent.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from swarm.config import SwarmConfig
from swarm.errors import RangeUnavailable
from swarm.status import TorrentStatus
from swarm.torrent import SwarmTorrent

INCONSISTENT_HASHES = "v1 and v2 hashes do not describe the same data"
"""libtorrent's error when a hybrid torrent's piece passes one of its two hash checks and fails
the other. libtorrent then forgets every piece it held (its picker is reset) and pauses."""


class RejoinNeeded(Exception):
    """Leave the swarm and add the torrent again. With `keep_held`, the new join starts from the
    pieces held before (libtorrent's own record of them was thrown away); otherwise from the
    torrent's resume data."""

    def __init__(self, *, keep_held: bool) -> None:
        super().__init__("rejoin")
        self.keep_held = keep_held


class Rejoins:
    """When to leave and re-add a torrent, at most `SwarmConfig.ban_rejoins` times per download.

    - After a hash failure and no progress for `ban_rejoin_seconds`: a failed piece that mixed
      blocks from several peers counts against each of them, so a corrupt peer can get honest
      ones banned with it and the download stops. Bans are not kept in resume data.
    - At once, after libtorrent's `INCONSISTENT_HASHES` error: seen now and then in busy hybrid
      swarms although every peer sent the published bytes (libtorrent 2.1.1). The pieces held
      before are kept, so the download goes on instead of fetching the whole file again; the
      caller's own piece checks and whole-file digest still judge them.
    """

    def __init__(self, config: SwarmConfig) -> None:
        self._after = config.ban_rejoin_seconds
        self._left = config.ban_rejoins

    def after_error(self, error: str) -> None:
        """Raise `RejoinNeeded` for an error a new join may cure (else return: it is fatal)."""
        if self._left > 0 and INCONSISTENT_HASHES in error:
            self._left -= 1
            raise RejoinNeeded(keep_held=True)

    def check(self, status: TorrentStatus, last_growth: float, now: float) -> None:
        if self._left > 0 and status.hash_failures and now - last_growth >= self._after:
            self._left -= 1
            raise RejoinNeeded(keep_held=False)


class WebSeedFallback:
    """When a download started without its web seeds adds them (`SwarmConfig`): no peer at all
    `web_seed_no_peer_seconds` after the start of the current join, or no progress for
    `web_seed_fallback_seconds`. A rejoin starts both clocks again: the torrent it re-adds has
    no peer connected yet, which is not a swarm without peers."""

    def __init__(self, config: SwarmConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.enabled = config.web_seed_fallback_seconds is not None
        self._no_progress = config.web_seed_fallback_seconds or 0.0
        self._no_peer = config.web_seed_no_peer_seconds
        self._clock = clock
        self._started = clock()
        self._done = not self.enabled

    def joined(self) -> None:
        """The torrent was (re-)added to the session just now."""
        self._started = self._clock()

    @property
    def web_seeds_on(self) -> bool:
        """Whether the torrent's web seeds belong in it now (from the start, or added since)."""
        return self._done

    def check(self, handle: SwarmTorrent, status: TorrentStatus, last_growth: float) -> bool:
        """Add the web seeds if it is time; True when it just did."""
        if self._done:
            return False
        now = self._clock()
        lonely = status.num_peers == 0 and now - self._started >= self._no_peer
        if lonely or now - max(last_growth, self._started) >= self._no_progress:
            self._done = True
            handle.add_web_seeds()
            return True
        return False


class PieceWatch:
    """Reports each piece once to `on_pieces` as libtorrent's have-bitfield gains it, and keeps
    the set of pieces ever held (across joins)."""

    def __init__(self, on_pieces: Callable[[list[int]], None] | None) -> None:
        self._on_pieces = on_pieces
        self._reported: list[bool] = []

    @property
    def held(self) -> list[int]:
        return [index for index, held in enumerate(self._reported) if held]

    def poll(self, handle: SwarmTorrent) -> None:
        have = handle.have_pieces()
        if not self._reported:
            self._reported = [False] * len(have)
        if len(have) != len(self._reported):
            return  # no have-bitfield right now (libtorrent just reset the torrent's picker)
        new = [i for i, held in enumerate(have) if held and not self._reported[i]]
        for index in new:
            self._reported[index] = True
        if new and self._on_pieces is not None:
            self._on_pieces(new)


RangeReader = Callable[[int, int], bytes]
"""Reads `length` bytes at `offset` of a torrent's file from outside the swarm; raises
`RangeUnavailable` when it cannot."""


class TailFetch:
    """Fetches the last pieces of a download outside the swarm when the swarm cannot deliver them
    (`SwarmConfig.tail_fetch_bytes`), and counts the bytes it moved.

    Not responsible for checking the bytes: libtorrent hashes an added piece like a peer's, so a
    bad range is a hash failure and the piece stays missing (it is not fetched again). A range
    that cannot be read is skipped the same way; the swarm may still deliver the piece. The
    torrent's web seeds would not do: libtorrent connects a web seed added mid-download only in
    its once-a-second round, and it then fetches whatever pieces it picks.
    """

    def __init__(self, config: SwarmConfig, read_range: RangeReader | None) -> None:
        self._read_range = read_range
        self._max_bytes = config.tail_fetch_bytes
        self._max_share = config.tail_fetch_share
        self._stall = config.tail_fetch_stall_seconds
        self._tried: set[int] = set()
        self.bytes_fetched = 0

    def check(
        self, handle: SwarmTorrent, status: TorrentStatus, last_growth: float, now: float
    ) -> bool:
        """Fetch the stuck pieces if it is time; True when it added any."""
        read_range = self._read_range
        if read_range is None:
            return False
        remaining = status.total_wanted - status.total_done
        tail = min(self._max_bytes, status.total_wanted * self._max_share)
        if not 0 < remaining <= tail or now - last_growth < self._stall:
            return False
        missing = [index for index in handle.missing_pieces() if index not in self._tried]
        offered = handle.pieces_offered() if missing else None
        if offered is None:
            return False
        added = False
        for index in missing:
            if index in offered or handle.has_piece(index):  # delivered during an earlier read
                continue
            self._tried.add(index)
            offset, length = handle.piece_span(index)
            try:
                data = read_range(offset, length)
            except RangeUnavailable:
                continue
            handle.add_piece(index, data)
            self.bytes_fetched += len(data)
            added = True
        return added
