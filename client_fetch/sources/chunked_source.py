"""CernVM-FS-style incremental fetch: the image rebuilt from content-addressed chunks.

Chunks come from donors first (images already in the host cache, read and verified locally),
then from the servers' chunk URLs: bounded parallel requests, identical mirrors as a failover
group (a corrupt chunk from one mirror is fetched from the next). Zero chunks are holes. Chunks
are appended in file order, so the partial file is hashed while written and the verifier needs no
second pass; a resumed partial continues at the last whole chunk.

Not responsible for choosing itself (the planner compares its estimate). Errors: `SourceUnavailable`
when the manifest has no chunk index, the index cannot be had, or a chunk cannot be had from any
store; OSError propagates.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import httpx

from client_fetch.chunk_indexes import ChunkIndexes
from client_fetch.chunkstores.base import ChunkStoreError
from client_fetch.chunkstores.composites import FailoverGroup, RouterStore
from client_fetch.chunkstores.donors import DonorStore
from client_fetch.chunkstores.http_store import HttpChunkStore
from client_fetch.errors import SourceUnavailable
from client_fetch.partial_file import PartialFile
from client_fetch.progress import Progress
from client_fetch.sources.base import Estimate, FetchReport
from image_format.chunks import ChunkCorrupt, ChunkIndex, ChunkSpan
from image_format.manifest import Manifest

DONORS = "local:donors"


class ChunkedSource:
    """Rebuilds an image from its chunk index: donors, then servers."""

    method = "chunks"
    writes_in_order = True

    def __init__(
        self,
        servers: Sequence[str],
        client: httpx.Client,
        indexes: ChunkIndexes,
        *,
        parallel_requests: int,
        store_factory: Callable[[str], HttpChunkStore] | None = None,
    ) -> None:
        self._servers = list(servers)
        self._indexes = indexes
        self._parallel = max(1, parallel_requests)
        self._store_factory = store_factory or (lambda url: HttpChunkStore(url, client))

    @property
    def name(self) -> str:
        return "chunks"

    def _target_and_donors(
        self, manifest: Manifest, donor_indexes: list[tuple[Path, ChunkIndex]] | None = None
    ) -> tuple[ChunkIndex, DonorStore]:
        if manifest.chunk_index is None:
            raise SourceUnavailable(self.name, "the manifest names no chunk index")
        target = self._indexes.get(manifest.chunk_index)
        if target.size != manifest.size:
            raise SourceUnavailable(self.name, "the chunk index does not cover the image")
        if donor_indexes is None:
            donor_indexes = self._indexes.donors(exclude=manifest.sha256)
        return target, DonorStore.for_target(target, donor_indexes)

    def estimate(self, manifest: Manifest, resume_offset: int) -> Estimate:
        if manifest.chunk_index is None:
            raise SourceUnavailable(self.name, "the manifest names no chunk index")
        donor_indexes = self._indexes.donors(exclude=manifest.sha256)
        if not donor_indexes:  # a cold host: no need to fetch the index to know that
            remaining = max(manifest.size - resume_offset, 0)
            return Estimate(self.name, self.method, remaining, "no donors: every chunk over HTTP")
        target, donors = self._target_and_donors(manifest, donor_indexes)
        remote = sum(
            span.size
            for span in target.data_spans
            if span.end > resume_offset and not donors.has(span.chunk_id)
        )
        covered = donors.covered_bytes(target)
        where = f"donors cover {covered * 100 // max(manifest.size, 1)} %, the rest over HTTP"
        return Estimate(self.name, self.method, remote, where, local_bytes=covered)

    def fetch(
        self, manifest: Manifest, partial: PartialFile, progress: Progress, report: FetchReport
    ) -> None:
        target, donors = self._target_and_donors(manifest)
        spans = self._spans_from(target, partial)
        progress.set_done(partial.size)
        http = [self._store_factory(url) for url in self._servers]
        remote = FailoverGroup(http)
        router = RouterStore([donors, remote])

        def get(span: ChunkSpan) -> bytes:
            try:
                return router.get(span.chunk_id, span.size)
            except (ChunkStoreError, ChunkCorrupt) as exc:
                raise SourceUnavailable(self.name, str(exc)) from exc

        donor_bytes_before = donors.bytes_read
        try:
            with ThreadPoolExecutor(self._parallel, thread_name_prefix="chunk") as pool:
                window: deque[tuple[ChunkSpan, Future[bytes] | None]] = deque()
                for span in spans:
                    window.append((span, None if span.is_zero else pool.submit(get, span)))
                    if len(window) >= self._parallel * 2:
                        self._write_next(window, partial, progress)
                while window:
                    self._write_next(window, partial, progress)
        finally:
            for store in http:
                report.add(store.name, store.bytes_moved)
                report.hash_failures += store.hash_failures
            report.add(DONORS, donors.bytes_read - donor_bytes_before)

    @staticmethod
    def _spans_from(target: ChunkIndex, partial: PartialFile) -> list[ChunkSpan]:
        """Spans still to write; a partial ending inside a chunk restarts from scratch."""
        if partial.size and not any(span.end == partial.size for span in target.spans):
            partial.restart()
        return [span for span in target.spans if span.offset >= partial.size]

    @staticmethod
    def _write_next(
        window: deque[tuple[ChunkSpan, Future[bytes] | None]],
        partial: PartialFile,
        progress: Progress,
    ) -> None:
        span, future = window.popleft()
        if future is None:
            partial.append_hole(span.size)
        else:
            partial.append(future.result())
        progress.advance(span.size)
