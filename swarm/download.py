"""`download_file`: run one torrent download to completion, with resume data and stall detection."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from swarm.download_watch import (
    INCONSISTENT_HASHES,
    PieceWatch,
    RangeReader,
    RejoinNeeded,
    Rejoins,
    TailFetch,
    WebSeedFallback,
)
from swarm.errors import SwarmError, SwarmFailed, SwarmStalled, SwarmStopped
from swarm.session import SwarmSession
from swarm.status import TorrentStatus
from swarm.torrent import SwarmTorrent

POLL_SECONDS = 0.2
TRACKER_SETTLE_SECONDS = 2.0
FINAL_POLL_SECONDS = 0.02
FINAL_STRETCH_FRACTION = 0.02
"""In the last 2 % of a download, poll every 20 ms: the caller waits for the last piece."""
RESUME_SAVE_SECONDS = 5.0


@dataclass(frozen=True)
class DownloadReport:
    """What one completed download moved, by kind of source."""

    bytes_from_peers: int
    bytes_from_web_seeds: int
    """Over HTTP: from the torrent's web seeds and by `read_range` (tail fetches)."""
    redundant_bytes: int
    """Of the bytes above, those received twice: peers plus web seeds minus this is what was
    new (less any pieces that failed their hash check)."""
    hash_failures: int
    seconds: float
    total_bytes: int


def download_file(
    session: SwarmSession,
    torrent: bytes,
    target_file: Path,
    *,
    stall_timeout_seconds: float,
    on_progress: Callable[[int, int], None] | None = None,
    resume_file: Path | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_added: Callable[[SwarmTorrent], None] | None = None,
    resume_save_seconds: float = RESUME_SAVE_SECONDS,
    on_pieces: Callable[[list[int]], None] | None = None,
    zero_pieces: Sequence[int] = (),
    read_range: RangeReader | None = None,
) -> DownloadReport:
    """Download the torrent's file into `target_file` and return when every piece verified.

    Piece hashes are checked by libtorrent; the whole-file sha256 is the caller's job. Resume data
    goes to `resume_file` every `resume_save_seconds` and when the download ends unfinished, so a
    killed or stalled run continues.
    `on_added` sees the torrent once added (to connect peers directly). `on_pieces` gets the
    indices of pieces libtorrent newly holds, polled with the progress (the first call includes
    pieces trusted from resume data); by the return every held piece has been reported once.
    `zero_pieces` (all-zero pieces) are not fetched when the download starts from nothing
    (`SwarmSession.add_download`).
    The torrent's web seeds join only as a fallback (`SwarmConfig.web_seed_fallback_seconds`: no
    progress for that long, or no peer at all after `web_seed_no_peer_seconds`). After hash
    failures and no progress, the torrent is re-added to shed wrongful bans, and after
    libtorrent's inconsistent-hashes error it is re-added keeping the pieces it held (`Rejoins`).
    With `read_range`, the last pieces the swarm cannot deliver are read through it
    (`SwarmConfig.tail_fetch_bytes`); libtorrent checks them like a peer's.
    The torrent is removed from the session on return. Raises `SwarmStalled` when bytes done did
    not grow for `stall_timeout_seconds`, `SwarmFailed` on a libtorrent error, `SwarmStopped`
    when `should_stop()` turns True, `TorrentInvalid` for bad torrent bytes.
    """
    started = time.monotonic()
    fallback = WebSeedFallback(session.config)
    watch = PieceWatch(on_pieces)
    rejoin = Rejoins(session.config)
    tail = TailFetch(session.config, read_range)
    earlier: list[TorrentStatus] = []  # the last status of each join before a rejoin
    resume_data = _read_resume(resume_file)
    held: Sequence[int] = ()
    while True:
        handle = session.add_download(
            torrent,
            target_file,
            resume_data=resume_data,
            web_seeds=fallback.web_seeds_on,
            zero_pieces=zero_pieces,
            held_pieces=held,
        )
        fallback.joined()
        try:
            if on_added is not None:
                on_added(handle)
            status = _run(
                handle,
                fallback,
                watch,
                rejoin,
                tail,
                stall_timeout_seconds,
                on_progress,
                resume_file,
                resume_save_seconds,
                should_stop,
            )
        except RejoinNeeded as rejoining:
            earlier.append(handle.status())
            if rejoining.keep_held:  # libtorrent forgot them: its resume data would too
                resume_data = None
                held = sorted({*held, *watch.held, *handle.pieces_passed()})
            else:
                resume_data, held = _snapshot(handle) or resume_data, ()
            continue
        finally:
            # A finished download needs no resume data: the caller takes the file as it is. After
            # the inconsistent-hashes error libtorrent's resume data says it holds nothing: the
            # last one saved is truer.
            if resume_file is not None and not handle.finished and not _forgot_pieces(handle):
                _save_resume(handle, resume_file)
            session.remove(handle)
        break
    joins = [*earlier, status]
    return DownloadReport(
        bytes_from_peers=sum(s.bytes_from_peers for s in joins),
        bytes_from_web_seeds=sum(s.bytes_from_web_seeds for s in joins) + tail.bytes_fetched,
        redundant_bytes=sum(s.redundant_bytes for s in joins),
        hash_failures=sum(s.hash_failures for s in joins),
        seconds=time.monotonic() - started,
        total_bytes=status.total_wanted,
    )


def _run(
    handle: SwarmTorrent,
    fallback: WebSeedFallback,
    watch: PieceWatch,
    rejoin: Rejoins,
    tail: TailFetch,
    stall_timeout_seconds: float,
    on_progress: Callable[[int, int], None] | None,
    resume_file: Path | None,
    resume_save_seconds: float,
    should_stop: Callable[[], bool] | None,
) -> TorrentStatus:
    last_done = -1
    last_growth = time.monotonic()
    last_resume = time.monotonic()
    while True:
        status = handle.status()
        if status.error:
            rejoin.after_error(status.error)
            raise SwarmFailed(handle.key, status.error)
        now = time.monotonic()
        if status.total_done != last_done or status.state.startswith("checking"):
            last_done, last_growth = status.total_done, now
            if on_progress is not None:
                on_progress(status.total_done, status.total_wanted)
        watch.poll(handle)
        if status.complete:  # not `total_done` alone: it counts unchecked blocks
            # Let the last blocks' alerts arrive so the ledger counts every byte, and the
            # `completed` announce finish, so that leaving sends the tracker `stopped`.
            handle.settle_alerts(POLL_SECONDS)
            _wait_for(handle.trackers_settled, TRACKER_SETTLE_SECONDS)
            watch.poll(handle)
            return handle.status()
        if fallback.check(handle, status, last_growth):
            last_growth = now  # the stall clock restarts with the new source
        if should_stop is not None and should_stop():
            raise SwarmStopped(f"torrent {handle.key}: stopped at {status.total_done} bytes")
        rejoin.check(status, last_growth, now)
        tail.check(handle, status, last_growth, now)
        if now - last_growth > stall_timeout_seconds:
            raise SwarmStalled(now - last_growth, status.total_done, status.total_wanted)
        # Resume data makes libtorrent trust it over the file: an empty snapshot taken before the
        # first piece verified would throw away what a killed run wrote after it (no check).
        if (
            resume_file is not None
            and status.total_done > 0
            and now - last_resume >= resume_save_seconds
        ):
            _save_resume(handle, resume_file)
            last_resume = now
        remaining = status.total_wanted - status.total_done
        final = remaining <= status.total_wanted * FINAL_STRETCH_FRACTION
        time.sleep(FINAL_POLL_SECONDS if final else POLL_SECONDS)


def _wait_for(condition: Callable[[], bool], max_seconds: float) -> None:
    deadline = time.monotonic() + max_seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(FINAL_POLL_SECONDS)


def _read_resume(resume_file: Path | None) -> bytes | None:
    if resume_file is None:
        return None
    try:
        return resume_file.read_bytes()
    except OSError:
        return None


def _forgot_pieces(handle: SwarmTorrent) -> bool:
    return INCONSISTENT_HASHES in (handle.status().error or "")


def _snapshot(handle: SwarmTorrent) -> bytes | None:
    """The torrent's resume data, or None when libtorrent has none or does not answer."""
    try:
        return handle.save_resume_data()
    except SwarmError:
        return None


def _save_resume(handle: SwarmTorrent, resume_file: Path) -> None:
    """Write resume data atomically; a failure to save is not a failure to download."""
    data = _snapshot(handle)
    if not data:
        return
    temp = resume_file.with_name(resume_file.name + ".tmp")
    with contextlib.suppress(OSError):
        temp.write_bytes(data)
        os.replace(temp, resume_file)
