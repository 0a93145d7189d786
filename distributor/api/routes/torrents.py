"""Torrent files by the sha256 of their bytes: served like blobs (Range, ETag, immutable), 404
when unknown; counted in the origin statistics under one key, `torrents`."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from distributor.api import paths
from distributor.api.deps import BlobDigest, OriginStatsDep, SettingsDep
from distributor.content.blob_response import serve_stored_file
from distributor.errors import BlobNotFound
from distributor.torrents.publish_step import torrent_store

router = APIRouter(tags=["content"])

TORRENT_MEDIA_TYPE = "application/x-bittorrent"
TORRENTS_STATS_KEY = "torrents"


class TorrentNotFound(BlobNotFound):
    """No torrent file with this sha256 is stored (answered 404, like a missing blob)."""

    code = "torrent_not_found"

    def __init__(self, digest: str) -> None:
        super().__init__(digest)
        self.args = (f"no torrent with sha256 {digest}",)


@router.api_route(paths.TORRENT, methods=["GET", "HEAD"], response_class=Response)
async def get_torrent(
    digest: BlobDigest, request: Request, settings: SettingsDep, stats: OriginStatsDep
) -> Response:
    return serve_stored_file(
        torrent_store(settings).path(digest),
        digest,
        request.headers,
        media_type=TORRENT_MEDIA_TYPE,
        stats=stats,
        stats_key=TORRENTS_STATS_KEY,
        not_found=TorrentNotFound(digest),
    )
