"""Answering a GET or HEAD for a stored blob: conditional and range logic, then fast streaming.

`plan_blob_response` is pure: from the request headers it decides 200, 206, 304 or 416 and the
response headers. `FileSliceResponse` streams a byte range of a file in 1 MiB `pread`s done in a
worker thread, watches for the client going away, and reports bytes sent and completed full
transfers to `OriginStats`.

Not responsible for finding the blob or validating its digest (the router does). Error contract:
an I/O error while streaming propagates (the connection is then closed by the server, and the
client sees a short body, never wrong bytes).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import anyio
from anyio import to_thread
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from distributor.content.origin_stats import OriginStats
from distributor.content.ranges import ByteRange, Unsatisfiable, parse_range
from image_format.content_paths import IMMUTABLE_CACHE_CONTROL

STREAM_BLOCK_BYTES = 1 << 20


@dataclass(frozen=True)
class BlobPlan:
    """What to answer: a status, headers, and the byte range to send (None: no body)."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: ByteRange | None = None


def _etag_matches(if_none_match: str, etag: str) -> bool:
    candidates = [part.strip() for part in if_none_match.split(",")]
    return any(c == "*" or c.removeprefix("W/") == etag for c in candidates)


def plan_blob_response(digest: str, size: int, request_headers: Headers) -> BlobPlan:
    etag = f'"{digest}"'
    headers = {
        "ETag": etag,
        "Cache-Control": IMMUTABLE_CACHE_CONTROL,
        "Accept-Ranges": "bytes",
    }
    if_none_match = request_headers.get("if-none-match")
    if if_none_match is not None and _etag_matches(if_none_match, etag):
        return BlobPlan(304, headers)
    wanted = parse_range(request_headers.get("range"), size)
    if_range = request_headers.get("if-range")
    if if_range is not None and if_range.strip() != etag:
        wanted = None  # the client's partial copy is of something else: send it all
    if isinstance(wanted, Unsatisfiable):
        return BlobPlan(416, {**headers, "Content-Range": f"bytes */{size}"})
    if wanted is None:
        return BlobPlan(200, {**headers, "Content-Length": str(size)}, ByteRange(0, size))
    partial = {
        **headers,
        "Content-Length": str(wanted.length),
        "Content-Range": wanted.content_range(size),
    }
    return BlobPlan(206, partial, wanted)


class FileSliceResponse(Response):
    """Streams `[span.start, span.end)` of an object stored at byte `base` of `path` (0: the
    object is the whole file); a full transfer is span == the whole object (`file_size`)."""

    def __init__(
        self,
        path: Path,
        span: ByteRange,
        file_size: int,
        *,
        status_code: int,
        headers: dict[str, str],
        media_type: str,
        digest: str,
        stats: OriginStats,
        base: int = 0,
    ) -> None:
        super().__init__(status_code=status_code, headers=headers, media_type=media_type)
        self.path = path
        self.span = span
        self.file_size = file_size
        self.digest = digest
        self.stats = stats
        self.base = base

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        if scope["method"] == "HEAD" or self.span.length == 0:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        gone = anyio.Event()

        async def watch_disconnect() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        fd = await to_thread.run_sync(os.open, self.path, os.O_RDONLY)
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(watch_disconnect)
                complete = await self._stream(fd, send, gone)
                group.cancel_scope.cancel()
        finally:
            os.close(fd)
        if complete and self.span.start == 0 and self.span.end == self.file_size:
            self.stats.record_full_transfer(self.digest)

    async def _stream(self, fd: int, send: Send, gone: anyio.Event) -> bool:
        """Send the span; True when all of it went out before the client left."""
        offset, end = self.span.start, self.span.end
        while offset < end:
            count = min(STREAM_BLOCK_BYTES, end - offset)
            block = await to_thread.run_sync(os.pread, fd, count, self.base + offset)
            if not block:
                raise OSError(f"{self.path} is shorter than {self.base + end} bytes")
            if gone.is_set():
                return False
            offset += len(block)
            await send({"type": "http.response.body", "body": block, "more_body": offset < end})
            if gone.is_set() and offset < end:
                return False  # the server dropped this block: the client had gone
            self.stats.record_bytes(self.digest, len(block))
        return True


def serve_stored_file(
    path: Path,
    digest: str,
    request_headers: Headers,
    *,
    media_type: str,
    stats: OriginStats,
    stats_key: str,
    not_found: Exception,
    within: tuple[int, int] | None = None,
) -> Response:
    """The whole answer for a content-addressed file: 200/206/304/416 with immutable headers.

    `stats_key` is what the origin statistics count it under (the digest, or a shared key for
    families of small objects). `within` = (offset, length): the object is that slice of the
    file (a chunk inside a pack), and Range requests count from its start. Raises `not_found`
    when the file does not exist or is shorter than the slice.
    """
    try:
        file_size = path.stat().st_size
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise not_found from exc
    base, size = within if within is not None else (0, file_size)
    if base + size > file_size:
        raise not_found
    stats.record_request(stats_key)
    plan = plan_blob_response(digest, size, request_headers)
    if plan.body is None:
        return Response(status_code=plan.status, headers=plan.headers)
    return FileSliceResponse(
        path,
        plan.body,
        size,
        status_code=plan.status,
        headers=plan.headers,
        media_type=media_type,
        digest=stats_key,
        stats=stats,
        base=base,
    )
