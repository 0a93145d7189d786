"""Torrent files by the sha256 of their bytes: immutable, ETag revalidation, 404 when unknown."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from distributor.api.deps import BlobDigest, SettingsDep
from distributor.errors import BlobNotFound
from distributor.torrents.publish_step import torrent_store
from image_format.content_paths import IMMUTABLE_CACHE_CONTROL, torrent_path

router = APIRouter(tags=["content"])

TORRENT_MEDIA_TYPE = "application/x-bittorrent"
_SAMPLE = "0" * 64
TORRENT = torrent_path(_SAMPLE).replace(_SAMPLE, "{digest}")


class TorrentNotFound(BlobNotFound):
    """No torrent file with this sha256 is stored (answered 404, like a missing blob)."""

    code = "torrent_not_found"

    def __init__(self, digest: str) -> None:
        super().__init__(digest)
        self.args = (f"no torrent with sha256 {digest}",)


@router.api_route(TORRENT, methods=["GET", "HEAD"], response_class=Response)
async def get_torrent(digest: BlobDigest, request: Request, settings: SettingsDep) -> Response:
    path = torrent_store(settings).path(digest)
    try:
        data = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise TorrentNotFound(digest) from exc
    etag = f'"{digest}"'
    headers = {"ETag": etag, "Cache-Control": IMMUTABLE_CACHE_CONTROL}
    wanted = request.headers.get("if-none-match")
    if wanted is not None and etag in {tag.strip().removeprefix("W/") for tag in wanted.split(",")}:
        return Response(status_code=304, headers=headers)
    body = b"" if request.method == "HEAD" else data
    headers["Content-Length"] = str(len(data))
    return Response(body, headers=headers, media_type=TORRENT_MEDIA_TYPE)
