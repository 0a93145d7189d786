"""`ChunkPublishStep`: chunk a published blob, store its new chunks compressed, name its index.

The blob is read once, streamed through the chunker; each chunk the store does not hold yet is
compressed (one zstd frame) on a small thread pool (zstd and sha256 release the GIL) with a
bounded number in flight, so memory stays at a few `max_size` chunks whatever the image size.
Zero chunks are stored too (a handful of distinct sizes, a few bytes each), so every id in an
index is served; fetchers write them as holes anyway. The index goes into the blob store
(content-addressed, served at `/v1/blobs/sha256/<digest>`) and the manifest gets
`{"chunk_index": {sha256, size, chunk_count}}`.

Not responsible for serving chunks (the `/v1/chunks` route) nor for choosing parameters (the
settings, defaults from docs/chunking.md). Error contract: `StorageError` when the blob cannot be
read or a chunk or the index cannot be stored. Chunks stored before a failure stay (they are
content-addressed and harmless; a later publish reuses them).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distributor.chunks.store import ChunkStore
from distributor.errors import StorageError
from distributor.publishing import PublishContext, PublishStep
from distributor.settings import DistributorSettings
from distributor.storage.blob_store import LocalBlobStore
from image_format.chunks import (
    DEFAULT_LEVEL,
    DEFAULT_PARAMS,
    ChunkIndex,
    ChunkParams,
    ChunkSpan,
    compress_chunk,
    iter_chunks,
)
from image_format.manifest import ChunkIndexRef


@dataclass(frozen=True)
class ChunkPublishResult:
    """What chunking one blob did: the index and its ref, and what was new in the store."""

    index: ChunkIndex
    ref: ChunkIndexRef
    chunks_written: int
    bytes_written: int
    seconds: float


class ChunkPublishStep:
    """A `PublishStep` that adds the version's chunk index to the manifest."""

    def __init__(
        self,
        chunks: ChunkStore,
        blobs: LocalBlobStore,
        *,
        params: ChunkParams = DEFAULT_PARAMS,
        level: int = DEFAULT_LEVEL,
        workers: int = 2,
        max_in_flight: int = 16,
    ) -> None:
        self._chunks = chunks
        self._blobs = blobs
        self._params = params
        self._level = level
        self._workers = max(1, workers)
        self._max_in_flight = max(1, max_in_flight)

    def __call__(self, context: PublishContext) -> Mapping[str, Any]:
        result = self.chunk_blob(context.blob_path)
        return {"chunk_index": result.ref.model_dump(mode="json")}

    def _store_one(self, span: ChunkSpan, data: bytes) -> int:
        compressed = compress_chunk(data if not span.is_zero else bytes(span.size), self._level)
        return len(compressed) if self._chunks.put(span.chunk_id, compressed) else 0

    def chunk_blob(self, path: Path) -> ChunkPublishResult:
        """Chunk the file at `path` into the store and store its index as a blob."""
        started = time.perf_counter()
        spans: list[ChunkSpan] = []
        seen: set[str] = set()
        in_flight: deque[Future[int]] = deque()
        written = bytes_written = 0
        try:
            with (
                path.open("rb") as handle,
                ThreadPoolExecutor(self._workers, thread_name_prefix="chunk") as pool,
            ):
                for span, data in iter_chunks(handle, self._params):
                    spans.append(span)
                    if span.chunk_id in seen or self._chunks.has(span.chunk_id):
                        continue
                    seen.add(span.chunk_id)
                    in_flight.append(pool.submit(self._store_one, span, data))
                    while len(in_flight) > self._max_in_flight:
                        size = in_flight.popleft().result()
                        written, bytes_written = written + bool(size), bytes_written + size
                while in_flight:
                    size = in_flight.popleft().result()
                    written, bytes_written = written + bool(size), bytes_written + size
        except OSError as exc:
            raise StorageError(str(path), f"cannot chunk: {exc}") from exc
        self._chunks.sync()
        index = ChunkIndex.from_spans(spans, self._params)
        data = index.to_bytes()
        digest, size = self._blobs.ingest([data])
        ref = ChunkIndexRef(sha256=digest, size=size, chunk_count=len(index))
        seconds = time.perf_counter() - started
        return ChunkPublishResult(index, ref, written, bytes_written, seconds)


def chunk_store(settings: DistributorSettings) -> ChunkStore:
    return ChunkStore(settings.data_dir / "chunks")


def with_chunk_step(
    settings: DistributorSettings, blobs: LocalBlobStore, steps: Sequence[PublishStep]
) -> list[PublishStep]:
    """`steps` plus the chunk step, unless `chunks_enabled` is off."""
    if not settings.chunks_enabled:
        return list(steps)
    step = ChunkPublishStep(
        chunk_store(settings),
        blobs,
        params=settings.chunk_params,
        level=settings.chunk_zstd_level,
    )
    return [*steps, step]
