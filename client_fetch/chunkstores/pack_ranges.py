"""The chunks one target misses, fetched as a few coalesced Range requests of packs.

Built for one fetch: the chunked source lists the chunks no donor holds, in the order it will
ask for them; `image_format.chunks.plan_ranges` merges their frames into ranges (small gaps read
and discarded). A `get` starts the range holding the chunk and reads ahead the next
`read_ahead` ranges on a small thread pool, so several requests are in flight while chunks are
written in file order. Fetched frames stay compressed until asked for and are dropped once
asked for as often as planned, so memory is bounded by the ranges in flight plus the frames of
chunks the image uses again later.

Identical mirrors: a range that fails on one mirror (missing pack, network, wrong length) is
asked of the next; a frame that does not decompress to its chunk id counts as a hash failure of
that mirror and is fetched alone from the next one. A chunk the plan did not expect (a donor that
turned out damaged) is fetched alone. Error contract (the `ChunkStore` rule): `ChunkMissing` for
an id the index does not locate or that every mirror says is missing, `ChunkUnavailable` when
every mirror failed otherwise, `ChunkCorrupt` never escapes unless every mirror sent bad bytes
(then `ChunkUnavailable` naming each).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from client_fetch.chunkstores.base import ChunkMissing, ChunkUnavailable
from client_fetch.chunkstores.pack_mirror import PackError, PackMirror, PackMissing
from image_format.chunks import ChunkCorrupt, ChunkLocation, PackRange, decompress_chunk


@dataclass
class _Fetched:
    """A range's frames (compressed, by chunk id, dropped once used up) and who sent them."""

    frames: dict[str, bytes]
    mirror: PackMirror


class PackRangeStore:
    """A `ChunkStore` over `ranges` (in the order they are needed) of identical `mirrors`."""

    def __init__(
        self,
        mirrors: Sequence[PackMirror],
        ranges: Sequence[PackRange],
        locations: Mapping[str, ChunkLocation],
        uses: Mapping[str, int],
        *,
        read_ahead: int = 4,
    ) -> None:
        self._mirrors = list(mirrors)
        self._ranges = list(ranges)
        self._locations = locations
        self._uses = Counter(uses)
        self._read_ahead = max(1, read_ahead)
        self._range_of = {cid: n for n, r in enumerate(self._ranges) for cid, _ in r.members}
        self._futures: dict[int, Future[_Fetched]] = {}
        self._next = 0  # the first range not yet started
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(self._read_ahead, thread_name_prefix="pack")

    @property
    def name(self) -> str:
        return "packs(" + ", ".join(mirror.name for mirror in self._mirrors) + ")"

    def has(self, chunk_id: str) -> bool:
        return chunk_id in self._locations

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> PackRangeStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get(self, chunk_id: str, size: int) -> bytes:
        location = self._locations.get(chunk_id)
        if location is None:
            raise ChunkMissing(chunk_id, "the chunk index does not say where it is")
        frame, mirror = self._planned_frame(chunk_id)
        if frame is not None and mirror is not None:
            try:
                return decompress_chunk(frame, chunk_id, size)
            except ChunkCorrupt:
                mirror.count_hash_failure()
                return self._alone(chunk_id, size, location, skip=mirror)
        return self._alone(chunk_id, size, location, skip=None)

    def _planned_frame(self, chunk_id: str) -> tuple[bytes | None, PackMirror | None]:
        """The chunk's frame from its planned range (None if not planned or the range failed
        on every mirror), and the mirror it came from."""
        number = self._range_of.get(chunk_id)
        if number is None:
            return None, None
        with self._lock:
            future = self._start(number)
        if future is None:
            return None, None
        try:
            fetched = future.result()
        except PackError:
            return None, None
        with self._lock:
            self._uses[chunk_id] -= 1
            frame = fetched.frames.get(chunk_id)
            if self._uses[chunk_id] <= 0:
                fetched.frames.pop(chunk_id, None)
                if not fetched.frames and self._futures.get(number) is future:
                    del self._futures[number]
        return frame, fetched.mirror

    def _start(self, number: int) -> Future[_Fetched] | None:
        """The future of range `number`, started with the ranges after it (lock held); None when
        its frames were all used up already (a chunk asked for more often than planned)."""
        while self._next < len(self._ranges) and self._next <= number + self._read_ahead:
            self._futures[self._next] = self._pool.submit(self._fetch, self._ranges[self._next])
            self._next += 1
        return self._futures.get(number)

    def _fetch(self, wanted: PackRange) -> _Fetched:
        """Read `wanted` from the first mirror that answers; split it into frames."""
        reasons: list[str] = []
        for mirror in self._mirrors:
            try:
                body = mirror.read(wanted.pack, wanted.start, wanted.end)
            except PackError as exc:
                reasons.append(str(exc))
                continue
            view = memoryview(body)
            frames = {
                cid: bytes(view[loc.offset - wanted.start : loc.end - wanted.start])
                for cid, loc in wanted.members
            }
            return _Fetched(frames, mirror)
        raise PackError(f"pack {wanted.pack[:12]}", "; ".join(reasons) or "no mirror")

    def _alone(
        self, chunk_id: str, size: int, location: ChunkLocation, skip: PackMirror | None
    ) -> bytes:
        """One chunk's frame by itself from each mirror in turn (but `skip`)."""
        reasons: list[str] = []
        missing = 0
        mirrors = [mirror for mirror in self._mirrors if mirror is not skip]
        for mirror in mirrors:
            try:
                frame = mirror.read(location.pack, location.offset, location.end)
                return decompress_chunk(frame, chunk_id, size)
            except PackMissing as exc:
                missing += 1
                reasons.append(str(exc))
            except PackError as exc:
                reasons.append(str(exc))
            except ChunkCorrupt as exc:
                mirror.count_hash_failure()
                reasons.append(f"{mirror.name}: {exc}")
        if skip is not None:
            reasons.insert(0, f"{skip.name}: corrupt")
        if mirrors and missing == len(mirrors) and skip is None:
            raise ChunkMissing(chunk_id, "; ".join(reasons))
        raise ChunkUnavailable(chunk_id, "; ".join(reasons) or "no other mirror")
