"""`SwarmSession`: one libtorrent session, the torrents in it, and its alerts routed to them."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import libtorrent as lt

from swarm.config import SwarmConfig
from swarm.errors import SwarmError, TorrentInvalid
from swarm.settings_pack import (
    STOP_ANNOUNCE_SECONDS,
    everyone_global_filter,
    session_params_for,
)
from swarm.status import Endpoint, web_seed_endpoints
from swarm.tls import openssl_trusting
from swarm.torrent import SwarmTorrent
from swarm.torrent_file import parse_torrent

LISTEN_WAIT_SECONDS = 5.0
STOP_ANNOUNCE_POLL_SECONDS = 0.002


class SwarmSession:
    """A libtorrent session with DHT/LSD/UPnP/NAT-PMP off, the pread disk backend and TCP only
    (unless the config enables uTP), holding single-file torrents each stored in one named file.

    Not responsible for policy: when to stop, what to seed, stall detection (`swarm.download`,
    the seeder and the fetcher decide). Error contract: the constructor raises `SwarmError` when
    it cannot listen on any of `listen_interfaces`; `add_*` raise `TorrentInvalid` for bad torrent
    bytes and `SwarmError` when libtorrent refuses the torrent; torrent errors that happen later
    show in `SwarmTorrent.status().error`. Thread-safe: alerts are drained under one lock.
    """

    def __init__(self, config: SwarmConfig) -> None:
        self.config = config
        self._lock = threading.RLock()
        self._torrents: dict[str, SwarmTorrent] = {}
        self._listen_errors: list[str] = []
        self._listening = False
        self._web_seed_cache: dict[tuple[str, ...], set[Endpoint]] = {}
        with openssl_trusting(
            config.ca_file, override_environment=config.ca_file_overrides_environment
        ):
            self._session: Any = lt.session(session_params_for(config))
        if config.rate_limit_local_peers:
            self._session.set_peer_class_filter(everyone_global_filter(self._session))
        self._wait_for_listen()

    # ---- adding and removing torrents --------------------------------------------------------

    def add_download(
        self,
        torrent: bytes,
        target_file: Path,
        *,
        resume_data: bytes | None = None,
        web_seeds: bool = True,
        zero_pieces: Sequence[int] = (),
        held_pieces: Sequence[int] = (),
    ) -> SwarmTorrent:
        """Download the torrent's single file into exactly `target_file`.

        Whatever `target_file` already holds is checked piece by piece and kept (a prefix from a
        killed run continues); `resume_data` from `save_resume_data()` skips that check. With
        `web_seeds=False` the torrent starts without its web seeds (nor any saved in the resume
        data); `SwarmTorrent.add_web_seeds()` adds them later. `zero_pieces` are pieces of all
        zero bytes: when `target_file` is empty or absent, it is made a sparse file of full size
        and those pieces count as held from the start, so they never cross the network (the
        caller checks them like any other piece). `held_pieces` are pieces `target_file` already
        holds, verified earlier: they count as held without a check (and the caller checks them).
        """
        parsed = parse_torrent(torrent)
        params = self._resume_params(resume_data, parsed.key)
        have = [False] * parsed.info.num_pieces()
        if zero_pieces and _sparse_from_empty(target_file, parsed.total_size):
            for index in zero_pieces:
                have[index] = True
        for index in held_pieces:
            have[index] = True
        if any(have):
            params.have_pieces = have
        if not web_seeds:
            params.url_seeds = []
            params.http_seeds = []
            params.flags |= lt.torrent_flags.override_web_seeds
        else:  # resume data saved while they were off must not keep them off (it overrides)
            params.flags &= ~lt.torrent_flags.override_web_seeds
        return self._add(params, parsed, target_file, seed_mode=False, web_seeds=web_seeds)

    def add_seed(self, torrent: bytes, data_file: Path, *, seed_mode: bool = True) -> SwarmTorrent:
        """Seed the existing complete `data_file` in place.

        With `seed_mode` libtorrent trusts the file and checks each piece the first time a peer
        asks for it (no full re-hash at start); without it the file is checked first.
        """
        parsed = parse_torrent(torrent)
        try:
            size = data_file.stat().st_size
        except OSError as exc:
            raise SwarmError(f"cannot seed {data_file}: {exc}") from exc
        if size != parsed.total_size:
            raise TorrentInvalid(
                f"{data_file} has {size} bytes, the torrent describes {parsed.total_size}"
            )
        return self._add(lt.add_torrent_params(), parsed, data_file, seed_mode=seed_mode)

    def remove(self, torrent: SwarmTorrent) -> None:
        """Stop and forget the torrent; its file stays on disk. Its trackers get `stopped` first
        (waiting for their answers, at most `STOP_ANNOUNCE_SECONDS`)."""
        self._leave([torrent])

    def _leave(self, torrents: Sequence[SwarmTorrent]) -> None:
        """Pause the torrents, which sends each tracker `stopped`; wait for the answers; remove.

        Left to libtorrent, a removed torrent's `stopped` is still sent and answered within
        milliseconds, but closing the session then took ~100 ms whatever its `tick_interval`
        (measured on loopback; ~2 ms once no announce is pending), which every fetch would pay on
        its way out. A paused torrent announces nothing when removed.
        """
        for torrent in torrents:
            torrent.handle.pause()
        deadline = time.monotonic() + STOP_ANNOUNCE_SECONDS
        while any(t.announcing() for t in torrents) and time.monotonic() < deadline:
            time.sleep(STOP_ANNOUNCE_POLL_SECONDS)
        with self._lock:
            for torrent in torrents:
                self._torrents.pop(torrent.key, None)
                self._session.remove_torrent(torrent.handle)

    def reannounce_all(self) -> None:
        """Every torrent announces to its trackers now (a tracker that lost its peers)."""
        for torrent in self.torrents():
            torrent.force_reannounce()

    def torrents(self) -> list[SwarmTorrent]:
        with self._lock:
            return list(self._torrents.values())

    def close(self) -> None:
        """Remove every torrent and stop the session (tracker stop announces bounded by 2 s)."""
        with self._lock:
            self._leave(list(self._torrents.values()))
            self._session.pause()
            self._session = None

    def __enter__(self) -> SwarmSession:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._session is not None:
            self.close()

    # ---- session facts -----------------------------------------------------------------------

    @property
    def lock(self) -> threading.RLock:
        """Held while alerts are routed to torrents; a torrent reads its ledger under it."""
        return self._lock

    @property
    def listen_port(self) -> int:
        return int(self._session.listen_port())

    def resolve_web_seeds(self, urls: tuple[str, ...]) -> set[Endpoint]:
        with self._lock:
            if urls not in self._web_seed_cache:
                self._web_seed_cache[urls] = web_seed_endpoints(urls)
            return set(self._web_seed_cache[urls])

    # ---- alerts ------------------------------------------------------------------------------

    def pump(self, wait_seconds: float = 0.0) -> int:
        """Drain libtorrent's alerts and route them to their torrents; returns how many."""
        with self._lock:
            if self._session is None:
                return 0
            if wait_seconds > 0:
                self._session.wait_for_alert(int(wait_seconds * 1000))
            alerts = self._session.pop_alerts()
            for alert in alerts:
                self._route(alert)
            return len(alerts)

    def _route(self, alert: Any) -> None:
        if isinstance(alert, lt.listen_succeeded_alert):
            self._listening = True
            return
        if isinstance(alert, lt.listen_failed_alert):
            self._listen_errors.append(alert.message())
            return
        handle = getattr(alert, "handle", None)
        if handle is None or not handle.is_valid():
            return
        torrent = self._torrents.get(_handle_key(handle))
        if torrent is not None:
            torrent._on_alert(alert)

    def _wait_for_listen(self) -> None:
        deadline = time.monotonic() + LISTEN_WAIT_SECONDS
        while not self._listening and time.monotonic() < deadline:
            if self._listen_errors and self._session.listen_port() == 0:
                break
            self.pump(wait_seconds=0.05)
        if not self._listening:
            problems = "; ".join(self._listen_errors) or "no listen socket came up"
            raise SwarmError(f"cannot listen on {self.config.listen_interfaces}: {problems}")

    # ---- internals ---------------------------------------------------------------------------

    def _resume_params(self, resume_data: bytes | None, key: str) -> Any:
        if resume_data:
            try:
                params = lt.read_resume_data(resume_data)
            except RuntimeError:
                params = None
            if params is not None and _params_key(params) == key:
                # A ban may have been wrongful (a failed piece mixing blocks from several peers
                # counts against all of them): bans last one join, never a whole download.
                params.banned_peers = []
                return params
        return lt.add_torrent_params()

    def _add(
        self, params: Any, parsed: Any, data_file: Path, *, seed_mode: bool, web_seeds: bool = True
    ) -> SwarmTorrent:
        params.ti = parsed.info
        params.save_path = str(data_file.parent)
        params.renamed_files = {0: data_file.name}
        flags = params.flags & ~lt.torrent_flags.auto_managed & ~lt.torrent_flags.paused
        flags |= lt.torrent_flags.duplicate_is_error
        if seed_mode:
            flags |= lt.torrent_flags.seed_mode
        params.flags = flags
        with self._lock:
            if parsed.key in self._torrents:
                raise SwarmError(f"torrent {parsed.key} is already in this session")
            try:
                handle = self._session.add_torrent(params)
            except RuntimeError as exc:
                raise SwarmError(f"libtorrent refused torrent {parsed.key}: {exc}") from exc
            torrent = SwarmTorrent(self, handle, parsed, data_file, web_seeds=web_seeds)
            self._torrents[parsed.key] = torrent
            return torrent


def _handle_key(handle: Any) -> str:
    hashes = handle.info_hashes()
    return str(hashes.v1) if hashes.has_v1() else str(hashes.v2)


def _params_key(params: Any) -> str:
    hashes = params.info_hashes
    return str(hashes.v1) if hashes.has_v1() else str(hashes.v2)


def _sparse_from_empty(path: Path, size: int) -> bool:
    """Extend an empty or absent file to `size` bytes of holes; False if it already had data."""
    try:
        with path.open("ab") as handle:
            if handle.tell() != 0:
                return False
            handle.truncate(size)
    except OSError as exc:
        raise SwarmError(f"cannot prepare {path}: {exc}") from exc
    return True
