"""One torrent in a `SwarmSession`: status, peers, resume data, what its alerts told us."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import libtorrent as lt

from image_format.piece_hashes import BLOCK_BYTES
from swarm.errors import SwarmError, SwarmFailed
from swarm.status import TorrentStatus, TransferLedger
from swarm.torrent_file import ParsedTorrent

ANSWER_GRACE_SECONDS = 2.0
"""How long after its torrent was added a listen address may take to get its first answer from a
tracker that answered another of our addresses, before waits leave it out (`reaching_endpoints`).
"""

if TYPE_CHECKING:
    from swarm.session import SwarmSession

RESUME_DATA_TIMEOUT_SECONDS = 10.0
SETTLE_WAIT_SECONDS = 0.02


class SwarmTorrent:
    """A handle on one torrent of a session, made by `SwarmSession.add_download`/`add_seed`.

    Not responsible for reading the session's alerts (the session routes each torrent's alerts
    to `_on_alert`) nor for deciding when a download is done (`swarm.download`). Error contract:
    `status()` never raises for torrent errors (it reports them in `error`); `raise_if_failed()`
    raises `SwarmFailed`; `save_resume_data()` returns None when libtorrent has nothing to save
    and raises `SwarmError` on a timeout.
    """

    def __init__(
        self,
        session: SwarmSession,
        handle: Any,
        torrent: ParsedTorrent,
        data_file: Path,
        *,
        web_seeds: bool = True,
    ) -> None:
        self._session = session
        self._handle = handle
        self.torrent = torrent
        self.data_file = data_file
        self._ledger = TransferLedger(
            session.resolve_web_seeds(torrent.web_seeds), web_seeds_in_use=web_seeds
        )
        self._hash_failures = 0
        self._passed: set[int] = set()
        self._error: str | None = None
        self._resume_lock = threading.Condition()
        self._resume_result: bytes | None = None
        self._resume_done = False
        self._web_seeds_added = False
        self._added_at = time.monotonic()

    @property
    def key(self) -> str:
        return self.torrent.key

    @property
    def info_hash_v1(self) -> str | None:
        return self.torrent.info_hash_v1

    @property
    def info_hash_v2(self) -> str | None:
        return self.torrent.info_hash_v2

    # ---- alerts (called by the session, under its lock) -------------------------------------

    def _on_alert(self, alert: Any) -> None:
        if isinstance(alert, lt.block_finished_alert):
            self._ledger.add_block(_endpoint(alert.endpoint), self._block_size(alert))
        elif isinstance(alert, lt.block_downloading_alert):
            self._ledger.learn_request(_endpoint(alert.endpoint))
        elif isinstance(alert, lt.piece_finished_alert):
            self._passed.add(int(alert.piece_index))
        elif isinstance(alert, lt.hash_failed_alert):
            self._hash_failures += 1
        elif isinstance(alert, lt.file_error_alert):
            self._error = f"file error on {alert.filename()}: {alert.error.message()}"
        elif isinstance(alert, lt.torrent_error_alert):
            self._error = alert.error.message() or alert.message()
        elif isinstance(alert, lt.save_resume_data_alert):
            self._finish_resume(bytes(lt.write_resume_data_buf(alert.params)))
        elif isinstance(alert, lt.save_resume_data_failed_alert):
            self._finish_resume(None)

    def _block_size(self, alert: Any) -> int:
        piece_size = int(self.torrent.info.piece_size(alert.piece_index))
        offset = int(alert.block_index) * BLOCK_BYTES
        return max(0, min(BLOCK_BYTES, piece_size - offset))

    def _finish_resume(self, data: bytes | None) -> None:
        with self._resume_lock:
            self._resume_result = data
            self._resume_done = True
            self._resume_lock.notify_all()

    # ---- queries and commands ----------------------------------------------------------------

    def status(self) -> TorrentStatus:
        self._session.pump()
        st = self._handle.status()
        peers = self._handle.get_peer_info()
        with self._session.lock:  # another thread's pump() adds blocks to the ledger
            for peer in peers:
                if peer.connection_type & (lt.peer_info.web_seed | lt.peer_info.http_seed):
                    self._ledger.learn_web_seed(_endpoint(peer.ip))
                else:
                    self._ledger.learn_peer(_endpoint(peer.ip))
            from_peers, from_web_seeds = self._ledger.split(int(st.total_payload_download))
        error = self._error_of(st)
        return TorrentStatus(
            info_hash_v1=self.info_hash_v1,
            info_hash_v2=self.info_hash_v2,
            state=str(st.state),
            progress=float(st.progress),
            total_wanted=int(st.total_wanted),
            total_done=int(st.total_wanted_done),
            bytes_from_peers=from_peers,
            bytes_from_web_seeds=from_web_seeds,
            redundant_bytes=int(st.total_redundant_bytes),
            uploaded_bytes=int(st.total_payload_upload),
            num_peers=int(st.num_peers),
            num_seeds=int(st.num_seeds),
            download_rate=int(st.download_payload_rate),
            upload_rate=int(st.upload_payload_rate),
            hash_failures=self._hash_failures,
            is_seeding=bool(st.is_seeding),
            is_finished=bool(st.is_finished),
            error=error,
        )

    @property
    def finished(self) -> bool:
        """Whether every wanted piece is downloaded and verified."""
        return bool(self._handle.status().is_finished)

    def trackers_settled(self) -> bool:
        """Whether no announce is in flight and every tracker that got `started` got `completed`.

        A torrent removed while its `completed` announce is in flight sends no `stopped`, and the
        tracker would go on handing out a peer that left.
        """
        return not any(
            state.get("updating") or (state.get("start_sent") and not state.get("complete_sent"))
            for state in self._announce_states()
        )

    def announcing(self) -> bool:
        """Whether an announce to a tracker is in flight (sent, not yet answered or failed)."""
        return any(state.get("updating") for state in self._announce_states())

    def _announce_states(self) -> Iterator[dict[str, Any]]:
        """Each tracker endpoint's announce state, per info-hash (v1 and v2 of a hybrid), of the
        endpoints that reach their tracker (`reaching_endpoints`)."""
        grace_over = time.monotonic() - self._added_at >= ANSWER_GRACE_SECONDS
        for tracker in self._handle.trackers():
            for endpoint in reaching_endpoints(tracker.get("endpoints", []), grace_over=grace_over):
                yield from _hash_states(endpoint)

    def settle_alerts(self, max_seconds: float) -> None:
        """Let alerts already on their way arrive: pump until a short wait brings none (bounded)."""
        deadline = time.monotonic() + max_seconds
        while self._session.pump(wait_seconds=SETTLE_WAIT_SECONDS) and time.monotonic() < deadline:
            pass

    def pieces_passed(self) -> set[int]:
        """Pieces that passed libtorrent's hash check since the torrent was added (from its
        alerts, so still known after libtorrent forgets them; see `swarm.download_watch`)."""
        self._session.pump()
        return set(self._passed)

    def have_pieces(self) -> list[bool]:
        """Which pieces libtorrent holds: hash-checked, or trusted from resume data."""
        return [bool(have) for have in self._handle.status(lt.torrent_handle.query_pieces).pieces]

    def has_piece(self, index: int) -> bool:
        """Whether libtorrent holds the piece now (hash-checked, or trusted from resume data)."""
        return bool(self._handle.have_piece(index))

    def missing_pieces(self) -> list[int]:
        """Pieces wanted (priority above 0) and not held; none while libtorrent has no
        have-bitfield (just after it reset the torrent's picker)."""
        wanted = self._handle.get_piece_priorities()
        pairs = zip(self.have_pieces(), wanted, strict=False)
        return [index for index, (held, priority) in enumerate(pairs) if priority and not held]

    def pieces_offered(self) -> set[int] | None:
        """Pieces some connected peer that does not choke us holds; None when a web seed is
        connected (it serves every piece). (libtorrent's `choked` flag is whether *we* choke the
        peer; `remote_choked`, whether it chokes us.)"""
        offered: set[int] = set()
        for peer in self._handle.get_peer_info():
            if peer.connection_type & (lt.peer_info.web_seed | lt.peer_info.http_seed):
                return None
            if peer.flags & lt.peer_info.remote_choked:
                continue
            offered.update(i for i, held in enumerate(peer.pieces) if held)
        return offered

    def piece_span(self, index: int) -> tuple[int, int]:
        """The piece's (offset, length) in the file."""
        info = self.torrent.info
        return index * int(info.piece_length()), int(info.piece_size(index))

    def add_piece(self, index: int, data: bytes) -> None:
        """Hand libtorrent a piece's bytes from elsewhere: it checks them like a peer's (a bad
        piece is a hash failure) and keeps blocks it already has."""
        self._handle.add_piece(index, data, 0)

    @property
    def error(self) -> str | None:
        """The torrent's error, if any (`status().error` without counting bytes or peers)."""
        self._session.pump()
        return self._error_of(self._handle.status())

    def _error_of(self, st: Any) -> str | None:
        return self._error or (st.errc.message() if st.errc.value() else None)

    def raise_if_failed(self) -> None:
        status = self.status()
        if status.error:
            raise SwarmFailed(self.key, status.error)

    def connect_peer(self, ip: str, port: int) -> None:
        """Connect to a peer directly (no tracker needed)."""
        self._handle.connect_peer((ip, port))

    def add_web_seeds(self) -> None:
        """Add the torrent's web seeds (for a download added with `web_seeds=False`); idempotent."""
        if self._web_seeds_added:
            return
        self._web_seeds_added = True
        with self._session.lock:
            self._ledger.web_seeds_added()
        for url in self.torrent.web_seeds:
            self._handle.add_url_seed(url)

    def force_reannounce(self) -> None:
        """Announce to every tracker now, even within the tracker's `min interval`."""
        self._handle.force_reannounce(0, -1, lt.reannounce_flags_t.ignore_min_interval)

    def save_resume_data(
        self, timeout_seconds: float = RESUME_DATA_TIMEOUT_SECONDS
    ) -> bytes | None:
        """Ask libtorrent for resume data and wait for it (bounded); None if it had none."""
        with self._resume_lock:
            self._resume_done = False
            self._resume_result = None
        self._handle.save_resume_data(lt.save_resume_flags_t.flush_disk_cache)
        deadline = time.monotonic() + timeout_seconds
        while True:
            with self._resume_lock:
                if self._resume_done:
                    return self._resume_result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise SwarmError(f"torrent {self.key}: no resume data within {timeout_seconds} s")
            self._session.pump(wait_seconds=min(0.1, remaining))

    @property
    def handle(self) -> Any:
        """libtorrent's torrent_handle, for code inside `swarm` only."""
        return self._handle


def _endpoint(value: Any) -> tuple[str, int]:
    return (str(value[0]), int(value[1]))


def _hash_states(endpoint: dict[str, Any]) -> list[dict[str, Any]]:
    return list(endpoint.get("info_hashes") or [endpoint])


def reaching_endpoints(
    endpoints: list[dict[str, Any]], *, grace_over: bool
) -> list[dict[str, Any]]:
    """The endpoints of one tracker worth waiting for. Once any has been answered and the torrent
    has been in the session `ANSWER_GRACE_SECONDS` (`grace_over`), those never answered are left
    out; until then, all of them.

    libtorrent announces from every listen socket, and with `0.0.0.0` that is one per local
    address, each bound to its interface. An interface with no way to the tracker (a VirtualBox
    host-only network, a docker bridge, a tracker on loopback) keeps its first announce in flight
    until libtorrent's timeout, and waiting on it made every fetch wait for the completed
    announce and again for `stopped` (4 s more on such a host). An address that does reach the
    tracker, only more slowly, must still be waited for: libtorrent sends `stopped` only from
    endpoints whose `started` was answered, so one removed before its answer stays registered at
    the tracker, a dead peer handed out until it expires. libtorrent marks an endpoint
    `start_sent` only once the tracker answered its `started`.
    """
    answered = [
        endpoint
        for endpoint in endpoints
        if any(state.get("start_sent") for state in _hash_states(endpoint))
    ]
    return answered if answered and grace_over else list(endpoints)
