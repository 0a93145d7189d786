"""Content by sha256: GET and HEAD with single ranges, ETag revalidation, immutable caching.

Every request for a digest the store holds is counted in the origin statistics (304 and 416
answers count as requests with no bytes). A multi-range request is answered 200 with the whole
blob (see `distributor.content.ranges`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from distributor.api import paths
from distributor.api.deps import BlobDigest, BlobStoreDep, OriginStatsDep
from distributor.content.blob_response import serve_stored_file
from distributor.errors import BlobNotFound

router = APIRouter(tags=["content"])

BLOB_MEDIA_TYPE = "application/octet-stream"


@router.api_route(paths.BLOB, methods=["GET", "HEAD"], response_class=Response)
async def get_blob(
    digest: BlobDigest, request: Request, store: BlobStoreDep, stats: OriginStatsDep
) -> Response:
    return serve_stored_file(
        store.path(digest),
        digest,
        request.headers,
        media_type=BLOB_MEDIA_TYPE,
        stats=stats,
        stats_key=digest,
        not_found=BlobNotFound(digest),
    )
