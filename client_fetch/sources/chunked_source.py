"""CernVM-FS-style incremental fetch: the image rebuilt from content-addressed chunks.

Chunks come from donors first (images already in the host cache, read and verified locally),
then from the servers: for a packed index (format 2), the missing chunks' frames are coalesced
into a few Range requests of pack files (`PackRangeStore`: read-ahead, identical mirrors with
failover, a corrupt chunk from one mirror fetched from the next); for an older index, one
request per chunk URL (`HttpChunkStore` in a `FailoverGroup`). Zero chunks are holes. Chunks are
appended in file order, so the partial file is hashed while written and the verifier needs no
second pass; a resumed partial continues at the last whole chunk.

Not responsible for choosing itself (the planner compares its estimate). Errors: `SourceUnavailable`
when the manifest has no chunk index, the index cannot be had, or a chunk cannot be had from any
store; OSError propagates.
"""

from __future__ import annotations

import contextlib
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import httpx

from client_fetch.chunk_indexes import ChunkIndexes
from client_fetch.chunkstores.base import ChunkStore, ChunkStoreError
from client_fetch.chunkstores.composites import FailoverGroup, RouterStore
from client_fetch.chunkstores.donors import DonorStore
from client_fetch.chunkstores.http_store import HttpChunkStore
from client_fetch.chunkstores.pack_mirror import PackMirror
from client_fetch.chunkstores.pack_ranges import PackRangeStore
from client_fetch.errors import SourceUnavailable
from client_fetch.partial_file import PartialFile
from client_fetch.progress import Progress
from client_fetch.sources.base import Estimate, FetchReport
from image_format.chunks import ChunkCorrupt, ChunkIndex, ChunkSpan, PackRange, plan_ranges
from image_format.chunks.packs import DEFAULT_MAX_GAP, DEFAULT_MAX_RANGE
from image_format.manifest import Manifest

DONORS = "local:donors"


def plan_pack_ranges(
    target: ChunkIndex,
    spans: Sequence[ChunkSpan],
    donors: DonorStore,
    *,
    max_gap: int = DEFAULT_MAX_GAP,
    max_range: int = DEFAULT_MAX_RANGE,
) -> tuple[list[PackRange], Counter[str]]:
    """The Range requests that fetch what donors lack among `spans` of a packed `target`,
    ordered by when the first of their chunks is written, and how often each chunk is used."""
    locations = {span.chunk_id: location for span, location in target.located_spans()}
    uses: Counter[str] = Counter()
    first_use: dict[str, int] = {}
    for number, span in enumerate(spans):
        if span.is_zero or donors.has(span.chunk_id):
            continue
        uses[span.chunk_id] += 1
        first_use.setdefault(span.chunk_id, number)
    wanted = [(cid, locations[cid]) for cid in first_use if cid in locations]
    ranges = plan_ranges(wanted, max_gap=max_gap, max_range=max_range)
    ranges.sort(key=lambda r: min(first_use[cid] for cid, _ in r.members))
    return ranges, uses


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
        mirror_factory: Callable[[str], PackMirror] | None = None,
    ) -> None:
        self._servers = list(servers)
        self._indexes = indexes
        self._parallel = max(1, parallel_requests)
        self._store_factory = store_factory or (lambda url: HttpChunkStore(url, client))
        self._mirror_factory = mirror_factory or (lambda url: PackMirror(url, client))

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
        if not donor_indexes:  # a cold host: the manifest says enough, no index download
            stored = manifest.chunk_index.data_chunk_bytes
            if stored is None:  # an index without pack locations: count every chunk
                where = "no donors: every chunk over HTTP"
                return Estimate(self.name, self.method, manifest.size, where)
            where = "no donors: every data chunk over HTTP, compressed; zero runs free"
            return Estimate(self.name, self.method, stored, where)
        target, donors = self._target_and_donors(manifest, donor_indexes)
        if target.packed:  # what the Range requests will move, gaps included
            spans = [span for span in target.spans if span.end > resume_offset]
            remote = sum(r.length for r in plan_pack_ranges(target, spans, donors)[0])
        else:
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
        donor_bytes_before = donors.bytes_read
        with self._remote(target, spans, donors, report) as remote:
            router = RouterStore([donors, remote])

            def get(span: ChunkSpan) -> bytes:
                try:
                    return router.get(span.chunk_id, span.size)
                except (ChunkStoreError, ChunkCorrupt) as exc:
                    raise SourceUnavailable(self.name, str(exc)) from exc

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
                report.add(DONORS, donors.bytes_read - donor_bytes_before)

    @contextlib.contextmanager
    def _remote(
        self,
        target: ChunkIndex,
        spans: Sequence[ChunkSpan],
        donors: DonorStore,
        report: FetchReport,
    ) -> Iterator[ChunkStore]:
        """The servers as one chunk store: pack ranges for a packed index, else chunk URLs.
        On the way out, what each server moved goes into `report`."""
        if not target.packed:
            http = [self._store_factory(url) for url in self._servers]
            try:
                yield FailoverGroup(http)
            finally:
                for store in http:
                    report.add(store.name, store.bytes_moved)
                    report.hash_failures += store.hash_failures
            return
        ranges, uses = plan_pack_ranges(target, spans, donors)
        locations = {span.chunk_id: location for span, location in target.located_spans()}
        mirrors = [self._mirror_factory(url) for url in self._servers]
        try:
            with PackRangeStore(
                mirrors, ranges, locations, uses, read_ahead=self._parallel
            ) as packs:
                yield packs
        finally:
            for mirror in mirrors:
                report.add(mirror.name, mirror.bytes_moved)
                report.hash_failures += mirror.hash_failures

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
