"""Content by sha256: GET and HEAD with single ranges, ETag revalidation, immutable caching.

Every request for a digest the store holds is counted in the origin statistics (304 and 416
answers count as requests with no bytes). A multi-range request is answered 200 with the whole
blob (see `distributor.content.ranges`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from distributor.api import paths
from distributor.api.deps import BlobDigest, BlobStoreDep, OriginStatsDep
from distributor.content.blob_response import FileSliceResponse, plan_blob_response
from distributor.errors import BlobNotFound

router = APIRouter(tags=["content"])

BLOB_MEDIA_TYPE = "application/octet-stream"


@router.api_route(paths.BLOB, methods=["GET", "HEAD"], response_class=Response)
async def get_blob(
    digest: BlobDigest, request: Request, store: BlobStoreDep, stats: OriginStatsDep
) -> Response:
    path = store.path(digest)
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise BlobNotFound(digest) from exc
    stats.record_request(digest)
    plan = plan_blob_response(digest, size, request.headers)
    if plan.body is None:
        return Response(status_code=plan.status, headers=plan.headers)
    return FileSliceResponse(
        path,
        plan.body,
        size,
        status_code=plan.status,
        headers=plan.headers,
        media_type=BLOB_MEDIA_TYPE,
        digest=digest,
        stats=stats,
    )
