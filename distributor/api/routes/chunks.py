"""Compressed chunks by chunk id: GET and HEAD, Range, ETag revalidation, immutable caching.

The body is the stored zstd frame (`application/zstd`); the id is the sha256 of the
*uncompressed* bytes, so clients verify after decompressing (`image_format.chunks`). Served by
the same code as blobs (`plan_blob_response`, `FileSliceResponse`); origin traffic for all
chunks is counted under one key, `chunks`, in the origin statistics (per-chunk counters would
be thousands of rows per image). 400 for a malformed id, 404 for an unknown one.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from distributor.api import paths
from distributor.api.deps import BlobDigest, OriginStatsDep, SettingsDep
from distributor.chunks.publish_step import chunk_store
from distributor.content.blob_response import serve_stored_file
from distributor.errors import BlobNotFound

router = APIRouter(tags=["content"])

CHUNK_MEDIA_TYPE = "application/zstd"
CHUNKS_STATS_KEY = "chunks"


class ChunkNotFound(BlobNotFound):
    """No chunk with this id is stored (answered 404, like a missing blob)."""

    code = "chunk_not_found"

    def __init__(self, chunk_id: str) -> None:
        super().__init__(chunk_id)
        self.chunk_id = chunk_id
        self.args = (f"no chunk with id {chunk_id}",)


@router.api_route(paths.CHUNK, methods=["GET", "HEAD"], response_class=Response)
async def get_chunk(
    digest: BlobDigest, request: Request, settings: SettingsDep, stats: OriginStatsDep
) -> Response:
    return serve_stored_file(
        chunk_store(settings).path(digest),
        digest,
        request.headers,
        media_type=CHUNK_MEDIA_TYPE,
        stats=stats,
        stats_key=CHUNKS_STATS_KEY,
        not_found=ChunkNotFound(digest),
    )
