"""Staging an HTTP request body into the blob store without blocking the event loop.

Small network reads are gathered into blocks of about 1 MiB; each block is written and hashed in a
worker thread. Not responsible for authentication or publishing. Error contract: as
`LocalBlobStore` (`UploadTooLarge`, `StorageError`); if the body stream fails or the task is
cancelled (client went away), the temp file is removed and the exception propagates.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from anyio import to_thread

from distributor.storage.blob_store import BlobWriter, LocalBlobStore, StagedBlob

GATHER_BYTES = 1 << 20


async def stage_stream(
    store: LocalBlobStore, body: AsyncIterator[bytes], *, max_bytes: int | None
) -> StagedBlob:
    """Write `body` into a staged blob; the caller commits or discards it."""
    writer: BlobWriter = await to_thread.run_sync(lambda: store.writer(max_bytes=max_bytes))
    pending = bytearray()
    try:
        async for piece in body:
            pending += piece
            if len(pending) >= GATHER_BYTES:
                block, pending = bytes(pending), bytearray()
                await to_thread.run_sync(writer.write, block)
        if pending:
            await to_thread.run_sync(writer.write, bytes(pending))
        return await to_thread.run_sync(writer.finish)
    except BaseException:
        writer.abort()
        raise
