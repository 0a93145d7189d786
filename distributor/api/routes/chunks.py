"""Compressed chunks by chunk id: GET and HEAD, Range, ETag revalidation, immutable caching.

The body is the chunk's zstd frame (`application/zstd`); the id is the sha256 of the
*uncompressed* bytes, so clients verify after decompressing (`image_format.chunks`). The frame is
served as a slice of the pack that holds it (one indexed lookup, no copy); chunks stored one file
each by an earlier release (`DATA/chunks/sha256/ab/<id>`, format-1 indexes) are still served.
Fetchers of packed indexes use `/v1/packs` instead; this URL is for single chunks and tools.
Origin traffic for all chunks is counted under one key, `chunks`, in the origin statistics
(per-chunk counters would be thousands of rows per image). 400 for a malformed id, 404 for an
unknown one.
"""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter, Request, Response

from distributor.api import paths
from distributor.api.deps import BlobDigest, OriginStatsDep, SettingsDep
from distributor.chunks.publish_step import pack_store
from distributor.content.blob_response import serve_stored_file
from distributor.errors import BlobNotFound
from image_format.content_paths import chunk_relpath

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
    packs = pack_store(settings)
    location = await to_thread.run_sync(packs.locate, digest)
    if location is None:
        path, within = settings.data_dir / "chunks" / chunk_relpath(digest), None
    else:
        path, within = packs.path(location.pack), (location.offset, location.length)
    return serve_stored_file(
        path,
        digest,
        request.headers,
        media_type=CHUNK_MEDIA_TYPE,
        stats=stats,
        stats_key=CHUNKS_STATS_KEY,
        not_found=ChunkNotFound(digest),
        within=within,
    )
