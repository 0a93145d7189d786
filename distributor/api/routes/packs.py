"""Pack files of compressed chunks by the sha256 of their bytes: served like blobs (Range, ETag,
`If-Range`, immutable), 404 when unknown. Fetchers ask for byte ranges holding the chunks they
miss (`image_format.chunks.packs`); every chunk is verified by its id after decompression, so a
bad pack only wastes bandwidth. Origin traffic for all packs is counted under one key, `packs`.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from distributor.api import paths
from distributor.api.deps import BlobDigest, OriginStatsDep, SettingsDep
from distributor.chunks.publish_step import pack_store
from distributor.content.blob_response import serve_stored_file
from distributor.errors import BlobNotFound

router = APIRouter(tags=["content"])

PACK_MEDIA_TYPE = "application/octet-stream"
PACKS_STATS_KEY = "packs"


class PackNotFound(BlobNotFound):
    """No pack with this sha256 is stored (answered 404, like a missing blob)."""

    code = "pack_not_found"

    def __init__(self, digest: str) -> None:
        super().__init__(digest)
        self.args = (f"no pack with sha256 {digest}",)


@router.api_route(paths.PACK, methods=["GET", "HEAD"], response_class=Response)
async def get_pack(
    digest: BlobDigest, request: Request, settings: SettingsDep, stats: OriginStatsDep
) -> Response:
    return serve_stored_file(
        pack_store(settings).path(digest),
        digest,
        request.headers,
        media_type=PACK_MEDIA_TYPE,
        stats=stats,
        stats_key=PACKS_STATS_KEY,
        not_found=PackNotFound(digest),
    )
