"""`ChunkPublishStep`: chunk a published blob, pack its new chunks, name its index.

The blob is read once, streamed through the chunker; each chunk no pack holds yet is compressed
(one zstd frame) on a small thread pool (zstd and sha256 release the GIL) with a bounded number
in flight, and the frames are appended in image order to new packs of about `pack_bytes` each,
so the chunks a host holding an earlier version misses sit next to each other and a few Range
requests fetch them. Memory stays at a few `max_size` chunks plus one id → location entry per
chunk of the image. Zero chunks are not stored: fetchers write them as holes. The index (format
2: every data chunk's pack, offset and length) goes into the blob store (content-addressed,
served at `/v1/blobs/sha256/<digest>`) and the manifest gets
`{"chunk_index": {sha256, size, chunk_count}}`.

Not responsible for serving packs or chunks (the routes) nor for choosing parameters (the
settings, defaults from docs/chunking.md). Error contract: `StorageError` when the blob cannot be
read or a pack or the index cannot be stored. Packs sealed before a failure stay (their chunks
are recorded; a later publish reuses them); the unsealed one is discarded.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distributor.chunks.pack_store import PackStore, PackWriter
from distributor.errors import StorageError
from distributor.publishing import PublishContext, PublishStep
from distributor.settings import DistributorSettings
from distributor.storage.blob_store import LocalBlobStore
from image_format.chunks import (
    DEFAULT_LEVEL,
    DEFAULT_PARAMS,
    ChunkIndex,
    ChunkLocation,
    ChunkParams,
    ChunkSpan,
    compress_chunk,
    iter_chunks,
)
from image_format.manifest import ChunkIndexRef

DEFAULT_PACK_BYTES = 32 << 20


@dataclass(frozen=True)
class ChunkPublishResult:
    """What chunking one blob did: the index and its ref, and what was new in the store."""

    index: ChunkIndex
    ref: ChunkIndexRef
    chunks_written: int
    bytes_written: int
    packs_written: int
    seconds: float


class ChunkPublishStep:
    """A `PublishStep` that adds the version's chunk index to the manifest."""

    def __init__(
        self,
        packs: PackStore,
        blobs: LocalBlobStore,
        *,
        params: ChunkParams = DEFAULT_PARAMS,
        level: int = DEFAULT_LEVEL,
        pack_bytes: int = DEFAULT_PACK_BYTES,
        workers: int = 2,
        max_in_flight: int = 16,
    ) -> None:
        self._packs = packs
        self._blobs = blobs
        self._params = params
        self._level = level
        self._pack_bytes = max(1, pack_bytes)
        self._workers = max(1, workers)
        self._max_in_flight = max(1, max_in_flight)

    def __call__(self, context: PublishContext) -> Mapping[str, Any]:
        result = self.chunk_blob(context.blob_path)
        return {"chunk_index": result.ref.model_dump(mode="json")}

    def chunk_blob(self, path: Path) -> ChunkPublishResult:
        """Chunk the file at `path` into packs and store its index as a blob."""
        started = time.perf_counter()
        run = _PackRun(self._packs, self._pack_bytes)
        try:
            spans = self._chunk_into(path, run)
        except BaseException:
            run.writer.discard()
            raise
        run.seal()
        located = run.located
        if len(located) < len({s.chunk_id for s in spans if not s.is_zero}):
            located.update(self._packs.locate_many(s.chunk_id for s in spans if not s.is_zero))
        locations = [None if s.is_zero else located[s.chunk_id] for s in spans]
        index = ChunkIndex.from_spans(spans, self._params, locations)
        digest, size = self._blobs.ingest([index.to_bytes()])
        ref = ChunkIndexRef(
            sha256=digest,
            size=size,
            chunk_count=len(index),
            data_chunk_bytes=index.stored_data_bytes(),
        )
        seconds = time.perf_counter() - started
        return ChunkPublishResult(
            index, ref, run.chunks_written, run.bytes_written, run.packs_written, seconds
        )

    def _chunk_into(self, path: Path, run: _PackRun) -> list[ChunkSpan]:
        spans: list[ChunkSpan] = []
        in_flight: deque[tuple[str, Future[bytes]]] = deque()
        level = self._level
        try:
            with (
                path.open("rb") as handle,
                self._packs.locator() as locate,
                ThreadPoolExecutor(self._workers, thread_name_prefix="chunk") as pool,
            ):
                for span, data in iter_chunks(handle, self._params):
                    spans.append(span)
                    if span.is_zero or span.chunk_id in run.seen:
                        continue
                    run.seen.add(span.chunk_id)
                    if locate(span.chunk_id) is not None:
                        continue  # stored by an earlier version or another image
                    in_flight.append((span.chunk_id, pool.submit(compress_chunk, data, level)))
                    while len(in_flight) > self._max_in_flight:
                        chunk_id, future = in_flight.popleft()
                        run.add(chunk_id, future.result())
                while in_flight:
                    chunk_id, future = in_flight.popleft()
                    run.add(chunk_id, future.result())
        except OSError as exc:
            raise StorageError(str(path), f"cannot chunk: {exc}") from exc
        return spans


class _PackRun:
    """The packs one publish writes: frames in image order, a new pack every `pack_bytes`."""

    def __init__(self, packs: PackStore, pack_bytes: int) -> None:
        self._packs = packs
        self._pack_bytes = pack_bytes
        self.writer: PackWriter = packs.writer()
        self.seen: set[str] = set()
        self.located: dict[str, ChunkLocation] = {}
        self.chunks_written = self.bytes_written = self.packs_written = 0

    def add(self, chunk_id: str, frame: bytes) -> None:
        self.writer.add(chunk_id, frame)
        self.chunks_written += 1
        self.bytes_written += len(frame)
        if self.writer.size >= self._pack_bytes:
            self.seal()
            self.writer = self._packs.writer()

    def seal(self) -> None:
        sealed = self.writer.seal()
        self.packs_written += bool(sealed)
        self.located.update(sealed)


def pack_store(settings: DistributorSettings) -> PackStore:
    return PackStore(settings.data_dir / "packs")


def with_chunk_step(
    settings: DistributorSettings, blobs: LocalBlobStore, steps: Sequence[PublishStep]
) -> list[PublishStep]:
    """`steps` plus the chunk step, unless `chunks_enabled` is off."""
    if not settings.chunks_enabled:
        return list(steps)
    step = ChunkPublishStep(
        pack_store(settings),
        blobs,
        params=settings.chunk_params,
        level=settings.chunk_zstd_level,
        pack_bytes=settings.chunk_pack_bytes,
    )
    return [*steps, step]
