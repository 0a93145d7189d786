"""`TorrentPublishStep`: make the version's torrent at publish time and name it in the manifest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from distributor.errors import PublishingDisabled, StorageError
from distributor.publishing import PublishContext, PublishStep
from distributor.settings import DistributorSettings
from distributor.torrents.store import TorrentStore
from image_format.content_paths import announce_path, blob_path

TorrentFormat = Literal["hybrid", "v1"]


class TorrentsUnavailable(PublishingDisabled):
    """Torrents are enabled but libtorrent is not installed (publishing answers 503)."""

    code = "torrents_unavailable"


class TorrentPublishStep:
    """Hashes the staged blob into a single-file torrent (announce: our tracker; web seeds: our
    blob URL, then each mirror's), stores it by sha256 and returns the manifest's `torrent` field.

    Not responsible for serving torrents (the `/v1/torrents` route) nor for tracking peers.
    libtorrent is imported only when the step runs, so the server does not load it otherwise.
    Error contract: `TorrentsUnavailable` without libtorrent, `StorageError` when the torrent
    cannot be stored or the blob cannot be read.
    """

    def __init__(
        self,
        store: TorrentStore,
        *,
        public_url: str,
        mirror_urls: Sequence[str] = (),
        torrent_format: TorrentFormat = "hybrid",
        private: bool = True,
    ) -> None:
        self._store = store
        self._public_url = public_url.rstrip("/")
        self._mirrors = tuple(url.rstrip("/") for url in mirror_urls)
        self._format: TorrentFormat = torrent_format
        self._private = private

    def web_seeds(self, digest: str) -> list[str]:
        return [base + blob_path(digest) for base in (self._public_url, *self._mirrors)]

    def __call__(self, context: PublishContext) -> Mapping[str, Any]:
        ref = self.torrent_ref(
            context.blob_path, context.sha256, context.size, f"{context.name}-{context.version}"
        )
        return {"torrent": ref} if ref is not None else {}

    def torrent_ref(
        self, blob_file: Path, digest: str, size: int, display_name: str
    ) -> dict[str, Any] | None:
        """Make and store the torrent of one stored blob (the image, or a delta patch); returns
        its `TorrentRef` fields, or None for an empty blob."""
        if size == 0:
            return None  # BitTorrent has no empty torrents, and nothing to share
        try:
            from swarm.errors import TorrentMakingFailed
            from swarm.torrent_maker import make_torrent
        except ImportError as exc:
            raise TorrentsUnavailable(
                "torrents are enabled but libtorrent is not installed: "
                "pip install 'volunteer-image-distribution[swarm]', "
                "or set DISTRIBUTOR_TORRENT_ENABLED=false"
            ) from exc
        try:
            made = make_torrent(
                blob_file,
                name=display_name,
                announce_url=self._public_url + announce_path(),
                web_seeds=self.web_seeds(digest),
                private=self._private,
                torrent_format=self._format,
            )
        except TorrentMakingFailed as exc:
            raise StorageError(str(blob_file), str(exc)) from exc
        torrent_digest = self._store.put(made.data)
        ref: dict[str, Any] = {"sha256": torrent_digest, "size": len(made.data)}
        if made.info_hash_v1:
            ref["info_hash_v1"] = made.info_hash_v1
        if made.info_hash_v2:
            ref["info_hash_v2"] = made.info_hash_v2
        return ref


def torrent_store(settings: DistributorSettings) -> TorrentStore:
    return TorrentStore(settings.data_dir / "torrents")


def publish_steps(
    settings: DistributorSettings, *, torrent_format: TorrentFormat | None = None
) -> list[PublishStep]:
    """The publish steps the settings ask for (today: the torrent, unless disabled)."""
    if not settings.torrent_enabled:
        return []
    return [
        TorrentPublishStep(
            torrent_store(settings),
            public_url=settings.effective_public_url,
            mirror_urls=settings.mirror_urls,
            torrent_format=torrent_format or settings.torrent_format,
            private=settings.torrent_private,
        )
    ]
