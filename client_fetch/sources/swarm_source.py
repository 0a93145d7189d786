"""The swarm: libtorrent with the distributor's tracker and HTTP web seeds, into the partial file.

The torrent file is fetched from a server and must hash to the signed manifest's `torrent.sha256`
(a mirror cannot hand us another torrent). libtorrent checks every piece (SHA-1 for v1, SHA-256
blocks for v2) and refetches bad ones from someone else. For a v2/hybrid torrent, a `PieceChecker`
also checks each piece against the torrent's SHA-256 piece hashes while the download runs; when
all match, the partial records the manifest's digest and the verifier skips its whole-file pass
(for a v1 torrent, or any piece that did not match, the verifier hashes the whole file). Pieces
whose hash is that of all zero bytes are not fetched at all on a fresh download: the partial is
a sparse file that already holds them (VM images have many), and they are checked too (as holes,
see `PieceChecker`).
Web seeds let a swarm without seeders finish from the origin, and the last pieces no peer offers
us are read from the servers over HTTP (`range_reader`). Resume data lives beside the
partial (`downloads/<digest>.resume`), so a killed fetch continues. https trackers and web seeds
are verified against the fetcher's CA bundle (`ca_file`, `client_fetch.trust`).

Not responsible for choosing when to use the swarm (the planner does) nor for seeding afterwards
(`client-fetch seed`). Errors: `SourceUnavailable` when the manifest has no torrent, no server has
a matching torrent file, or the swarm stalls or fails; OSError propagates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import httpx

from client_fetch.errors import SourceUnavailable
from client_fetch.partial_file import PartialFile
from client_fetch.piece_checker import PieceChecker
from client_fetch.progress import Progress
from client_fetch.sources.base import Estimate, FetchReport
from client_fetch.verified_fetch import fetch_torrent
from image_format.errors import ImageFormatError
from image_format.manifest import Manifest, TorrentRef
from image_format.piece_hashes import PieceHashes, piece_hashes_from_torrent
from swarm.config import SwarmConfig
from swarm.errors import SwarmError, SwarmStalled

RangeReaderFactory = Callable[[str], Callable[[int, int], bytes]]
"""Blob digest → a reader of its byte ranges over HTTP (`BlobRangeReader`)."""

PEERS = "swarm:peers"
WEB_SEEDS = "swarm:web-seeds"


class SwarmSource:
    """Downloads one image through the BitTorrent swarm named by its signed manifest."""

    method = "swarm"
    writes_in_order = False

    def __init__(
        self,
        servers: Sequence[str],
        client: httpx.Client,
        config: SwarmConfig,
        *,
        stall_timeout_seconds: float,
        resume_path: Callable[[str], Path],
        range_reader: RangeReaderFactory | None = None,
        ca_file: Callable[[], str] | None = None,
    ) -> None:
        self._servers = list(servers)
        self._client = client
        self._config = config
        self._stall_timeout = stall_timeout_seconds
        self._resume_path = resume_path
        self._range_reader = range_reader
        self._ca_file = ca_file

    @property
    def name(self) -> str:
        return "swarm"

    def estimate(self, manifest: Manifest, resume_offset: int) -> Estimate:
        if manifest.torrent is None:
            raise SourceUnavailable(self.name, "the manifest names no torrent")
        return Estimate(self.name, self.method, manifest.size, "peers and web seeds")

    def fetch(
        self, manifest: Manifest, partial: PartialFile, progress: Progress, report: FetchReport
    ) -> None:
        if manifest.torrent is None:
            raise SourceUnavailable(self.name, "the manifest names no torrent")
        torrent = self._torrent(manifest.torrent)
        hashes = _piece_hashes(torrent, manifest.size)
        checker = PieceChecker(partial.path, hashes) if hashes is not None else None
        try:
            self._download(
                torrent,
                manifest.sha256,
                partial.path,
                progress,
                report,
                on_pieces=checker.submit if checker is not None else None,
                zero_pieces=hashes.zero_pieces() if hashes is not None else (),
            )
        finally:
            if checker is not None:
                checker.close()
        if checker is not None and checker.finish():
            partial.record_checked_digest(manifest.sha256)

    def fetch_file(
        self,
        ref: TorrentRef,
        digest: str,
        target: Path,
        progress: Progress,
        report: FetchReport,
    ) -> None:
        """Download the file of torrent `ref` (content `digest`) into `target` through the swarm."""
        self._download(
            self._torrent(ref), digest, target, progress, report, on_pieces=None, zero_pieces=()
        )

    def _torrent(self, ref: TorrentRef) -> bytes:
        try:
            return fetch_torrent(self._client, self._servers, ref)
        except SourceUnavailable as exc:
            raise SourceUnavailable(self.name, exc.reason) from exc

    def _download(
        self,
        torrent: bytes,
        digest: str,
        target: Path,
        progress: Progress,
        report: FetchReport,
        *,
        on_pieces: Callable[[list[int]], None] | None,
        zero_pieces: Sequence[int],
    ) -> None:
        from swarm.download import download_file  # libtorrent loads only when the swarm is used
        from swarm.session import SwarmSession

        def on_progress(done: int, total: int) -> None:
            progress.set_done(done)

        try:
            with SwarmSession(self._session_config()) as session:
                result = download_file(
                    session,
                    torrent,
                    target,
                    stall_timeout_seconds=self._stall_timeout,
                    on_progress=on_progress,
                    resume_file=self._resume_path(digest),
                    on_pieces=on_pieces,
                    zero_pieces=zero_pieces,
                    read_range=self._range_reader(digest) if self._range_reader else None,
                )
        except SwarmStalled as exc:
            raise SourceUnavailable(self.name, f"stalled: {exc}") from exc
        except SwarmError as exc:
            raise SourceUnavailable(self.name, f"swarm failed: {exc}") from exc
        report.add(PEERS, result.bytes_from_peers)
        report.add(WEB_SEEDS, result.bytes_from_web_seeds)
        report.hash_failures += result.hash_failures

    def _session_config(self) -> SwarmConfig:
        """The config naming the fetcher's CA bundle (`ca_file`) to libtorrent. Even for a
        torrent whose URLs are all http://: libtorrent follows a redirect to https."""
        if self._ca_file is None:
            return self._config
        return replace(self._config, ca_file=self._ca_file(), ca_file_overrides_environment=True)


def _piece_hashes(torrent: bytes, size: int) -> PieceHashes | None:
    """The torrent's SHA-256 piece hashes for a file of `size` bytes, or None (a v1 torrent):
    then no piece is checked as it arrives (the verifier hashes the whole file) and all-zero
    pieces are fetched like the others."""
    try:
        hashes = piece_hashes_from_torrent(torrent)
    except ImageFormatError:
        return None
    return hashes if hashes.file_length == size else None
