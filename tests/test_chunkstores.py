"""Chunk stores and their composites, by the error rule of `client_fetch.chunkstores.base`.

Missing is not failure: a router asks the next store only on `ChunkMissing` and stops on a real
error; a failover group of identical mirrors moves on from any failure of one mirror; a caching
wrapper treats a corrupt local copy as missing and replaces it; local and donor stores verify every
read and report damage as missing. The fakes are of our own protocol (`ChunkStore`), and the HTTP
store is driven through httpx's own transport for canned answers.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from client_fetch.chunkstores.base import ChunkMissing, ChunkUnavailable
from client_fetch.chunkstores.composites import CachingStore, FailoverGroup, RouterStore
from client_fetch.chunkstores.donors import DonorStore
from client_fetch.chunkstores.http_store import HttpChunkStore
from client_fetch.chunkstores.local import LocalChunkStore
from image_format.chunks import ChunkCorrupt, ChunkIndex, ChunkParams, compress_chunk

DATA = b"chunk bytes " * 100
CHUNK_ID = hashlib.sha256(DATA).hexdigest()
SMALL = ChunkParams(min_size=8192, avg_size=24576, max_size=65536, zero_min_size=8192)


@dataclass
class FakeStore:
    """A `ChunkStore` that answers every get with `outcome` and records who asked."""

    name: str
    outcome: str = "ok"  # ok | missing | unavailable | corrupt
    data: bytes = DATA
    calls: list[str] = field(default_factory=list)

    def get(self, chunk_id: str, size: int) -> bytes:
        self.calls.append(chunk_id)
        if self.outcome == "missing":
            raise ChunkMissing(chunk_id, f"{self.name} has none")
        if self.outcome == "unavailable":
            raise ChunkUnavailable(chunk_id, f"{self.name} is down")
        if self.outcome == "corrupt":
            raise ChunkCorrupt(chunk_id, f"{self.name} sent bad bytes")
        return self.data

    def has(self, chunk_id: str) -> bool:
        return self.outcome != "missing"


# -- RouterStore ----------------------------------------------------------------------------------


def test_router_asks_the_next_store_only_when_one_says_missing() -> None:
    first, second = FakeStore("a", "missing"), FakeStore("b")
    router = RouterStore([first, second])
    assert router.get(CHUNK_ID, len(DATA)) == DATA
    assert first.calls == [CHUNK_ID] and second.calls == [CHUNK_ID]
    assert router.has(CHUNK_ID) and router.name == "router(a, b)"


@pytest.mark.parametrize(
    ("outcome", "error"),
    [("unavailable", ChunkUnavailable), ("corrupt", ChunkCorrupt)],
)
def test_router_stops_on_a_real_error(outcome: str, error: type[Exception]) -> None:
    first, second = FakeStore("a", outcome), FakeStore("b")
    with pytest.raises(error):
        RouterStore([first, second]).get(CHUNK_ID, len(DATA))
    assert second.calls == []  # a real error is not "missing"


def test_router_with_every_store_missing_says_missing() -> None:
    stores = [FakeStore("a", "missing"), FakeStore("b", "missing")]
    router = RouterStore(stores)
    with pytest.raises(ChunkMissing):
        router.get(CHUNK_ID, len(DATA))
    assert not router.has(CHUNK_ID)
    assert all(store.calls == [CHUNK_ID] for store in stores)


# -- FailoverGroup --------------------------------------------------------------------------------


@pytest.mark.parametrize("outcome", ["corrupt", "unavailable", "missing"])
def test_failover_moves_on_from_any_failure_of_one_mirror(outcome: str) -> None:
    bad, good = FakeStore("bad", outcome), FakeStore("good")
    assert FailoverGroup([bad, good]).get(CHUNK_ID, len(DATA)) == DATA
    assert bad.calls == [CHUNK_ID] and good.calls == [CHUNK_ID]


def test_failover_stops_at_the_first_mirror_that_answers() -> None:
    first, second = FakeStore("a"), FakeStore("b")
    assert FailoverGroup([first, second]).get(CHUNK_ID, len(DATA)) == DATA
    assert second.calls == []


def test_failover_with_every_mirror_missing_says_missing() -> None:
    group = FailoverGroup([FakeStore("a", "missing"), FakeStore("b", "missing")])
    with pytest.raises(ChunkMissing) as caught:
        group.get(CHUNK_ID, len(DATA))
    assert "a has none" in caught.value.reason and "b has none" in caught.value.reason


@pytest.mark.parametrize("other", ["unavailable", "corrupt"])
def test_failover_with_mixed_failures_is_unavailable_naming_each(other: str) -> None:
    group = FailoverGroup([FakeStore("a", "missing"), FakeStore("b", other)])
    with pytest.raises(ChunkUnavailable) as caught:
        group.get(CHUNK_ID, len(DATA))
    assert "a: a has none" in caught.value.reason and "b:" in caught.value.reason


def test_a_router_over_a_group_sees_a_mirror_error_as_real() -> None:
    """The chunked source's composition: donors, then the mirrors; an outage is not "missing"."""
    after = FakeStore("after")
    router = RouterStore(
        [FakeStore("donors", "missing"), FailoverGroup([FakeStore("m1", "unavailable")]), after]
    )
    with pytest.raises(ChunkUnavailable):
        router.get(CHUNK_ID, len(DATA))
    assert after.calls == []


# -- LocalChunkStore ------------------------------------------------------------------------------


def test_local_store_round_trip_and_layout(tmp_path: Path) -> None:
    store = LocalChunkStore(tmp_path / "chunks")
    assert not store.has(CHUNK_ID)
    with pytest.raises(ChunkMissing):
        store.get(CHUNK_ID, len(DATA))
    store.put(CHUNK_ID, DATA)
    path = tmp_path / "chunks" / "sha256" / CHUNK_ID[:2] / CHUNK_ID
    assert path.read_bytes() == DATA
    assert [p.name for p in path.parent.iterdir()] == [CHUNK_ID]  # no temp file left
    assert store.has(CHUNK_ID) and store.get(CHUNK_ID, len(DATA)) == DATA


@pytest.mark.parametrize("damage", ["flipped", "short"])
def test_local_store_reports_a_damaged_copy_as_missing_and_removes_it(
    tmp_path: Path, damage: str
) -> None:
    store = LocalChunkStore(tmp_path)
    store.put(CHUNK_ID, DATA)
    path = tmp_path / "sha256" / CHUNK_ID[:2] / CHUNK_ID
    path.write_bytes(b"X" + DATA[1:] if damage == "flipped" else DATA[:-1])
    with pytest.raises(ChunkMissing, match="corrupt"):
        store.get(CHUNK_ID, len(DATA))
    assert not path.exists() and not store.has(CHUNK_ID)


# -- CachingStore ---------------------------------------------------------------------------------


def test_caching_store_keeps_what_it_fetched(tmp_path: Path) -> None:
    local, remote = LocalChunkStore(tmp_path), FakeStore("remote")
    cached = CachingStore(local, remote)
    assert cached.get(CHUNK_ID, len(DATA)) == DATA
    assert cached.get(CHUNK_ID, len(DATA)) == DATA
    assert remote.calls == [CHUNK_ID]  # the second get was local
    assert local.has(CHUNK_ID)


def test_caching_store_replaces_a_corrupt_local_copy(tmp_path: Path) -> None:
    local, remote = LocalChunkStore(tmp_path), FakeStore("remote")
    local.put(CHUNK_ID, DATA)
    path = tmp_path / "sha256" / CHUNK_ID[:2] / CHUNK_ID
    path.write_bytes(DATA[::-1])
    assert CachingStore(local, remote).get(CHUNK_ID, len(DATA)) == DATA
    assert remote.calls == [CHUNK_ID]
    assert path.read_bytes() == DATA  # replaced by the verified remote copy


def test_caching_store_treats_a_corrupt_answer_of_its_local_store_as_missing() -> None:
    """Whatever the local store is: `ChunkCorrupt` from it is a miss, not an error."""

    @dataclass
    class CorruptLocal(FakeStore):
        stored: dict[str, bytes] = field(default_factory=dict)

        def put(self, chunk_id: str, data: bytes) -> None:
            self.stored[chunk_id] = data

    local, remote = CorruptLocal("local", "corrupt"), FakeStore("remote")
    assert CachingStore(local, remote).get(CHUNK_ID, len(DATA)) == DATA
    assert local.stored == {CHUNK_ID: DATA}


@pytest.mark.parametrize(
    ("outcome", "error"),
    [("missing", ChunkMissing), ("unavailable", ChunkUnavailable), ("corrupt", ChunkCorrupt)],
)
def test_caching_store_passes_the_remote_error_on_and_keeps_nothing(
    tmp_path: Path, outcome: str, error: type[Exception]
) -> None:
    local = LocalChunkStore(tmp_path)
    with pytest.raises(error):
        CachingStore(local, FakeStore("remote", outcome)).get(CHUNK_ID, len(DATA))
    assert not local.has(CHUNK_ID)


# -- DonorStore -----------------------------------------------------------------------------------


def _donor_and_target(folder: Path) -> tuple[Path, ChunkIndex, ChunkIndex, bytes]:
    """A donor image and a target sharing its first half (and both with a zero run)."""
    rng = random.Random(5)
    shared = rng.randbytes(96 * 1024) + bytes(64 * 1024)
    donor_bytes = shared + rng.randbytes(96 * 1024)
    target_bytes = shared + rng.randbytes(64 * 1024)
    donor, target = folder / "donor.img", folder / "target.img"
    donor.write_bytes(donor_bytes)
    target.write_bytes(target_bytes)
    return donor, ChunkIndex.build(donor, SMALL), ChunkIndex.build(target, SMALL), target_bytes


def test_donor_store_serves_the_chunks_a_target_shares_and_counts_them(tmp_path: Path) -> None:
    donor, donor_index, target, target_bytes = _donor_and_target(tmp_path)
    store = DonorStore.for_target(target, [(donor, donor_index)])
    donor_ids = {span.chunk_id for span in donor_index.spans}
    shared = [s for s in target.spans if not s.is_zero and s.chunk_id in donor_ids]
    new = [s for s in target.spans if not s.is_zero and s.chunk_id not in donor_ids]
    assert shared and new and any(s.is_zero for s in target.spans)
    assert store.covered_bytes(target) == sum(s.size for s in shared)
    for span in shared:
        assert store.has(span.chunk_id)
        assert store.get(span.chunk_id, span.size) == target_bytes[span.offset : span.end]
    assert store.bytes_read == sum(s.size for s in shared)
    for span in new:
        assert not store.has(span.chunk_id)
        with pytest.raises(ChunkMissing):
            store.get(span.chunk_id, span.size)
    # Only what the target needs is kept: the donor's own chunks the target lacks are not.
    unneeded = donor_ids - {s.chunk_id for s in target.spans}
    assert unneeded and not any(store.has(chunk_id) for chunk_id in unneeded)


@pytest.mark.parametrize("damage", ["flipped", "removed", "truncated"])
def test_a_damaged_donor_is_missing_not_an_error(tmp_path: Path, damage: str) -> None:
    donor, donor_index, target, _ = _donor_and_target(tmp_path)
    store = DonorStore.for_target(target, [(donor, donor_index)])
    span = next(s for s in target.spans if not s.is_zero and store.has(s.chunk_id))
    if damage == "flipped":
        with donor.open("r+b") as handle:
            handle.seek(span.offset + 10)
            byte = handle.read(1)
            handle.seek(span.offset + 10)
            handle.write(bytes([byte[0] ^ 1]))
    elif damage == "removed":
        donor.unlink()
    else:
        with donor.open("r+b") as handle:
            handle.truncate(span.offset + 5)
    with pytest.raises(ChunkMissing):
        store.get(span.chunk_id, span.size)
    assert store.bytes_read == 0
    # In a router, the next store serves it.
    remote = FakeStore("remote", data=b"from remote")
    assert RouterStore([store, remote]).get(span.chunk_id, span.size) == b"from remote"


# -- HttpChunkStore -------------------------------------------------------------------------------


def _http_store(handler: httpx.MockTransport) -> HttpChunkStore:
    return HttpChunkStore("http://mirror.test/", httpx.Client(transport=handler))


def test_http_store_decodes_verifies_and_counts_compressed_bytes() -> None:
    frame = compress_chunk(DATA)
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, content=frame)

    store = _http_store(httpx.MockTransport(answer))
    assert store.get(CHUNK_ID, len(DATA)) == DATA
    assert seen == [f"/v1/chunks/sha256/{CHUNK_ID}"]
    assert store.bytes_moved == len(frame) < len(DATA)
    assert store.hash_failures == 0
    assert store.name == "http://mirror.test"


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (404, b"", ChunkMissing),
        (500, b"", ChunkUnavailable),
        (200, b"not a zstd frame", ChunkCorrupt),
        (200, compress_chunk(DATA[::-1]), ChunkCorrupt),  # decodes, but to other bytes
    ],
    ids=["404", "500", "garbage", "other-bytes"],
)
def test_http_store_maps_answers_to_the_error_rule(
    status: int, body: bytes, error: type[Exception]
) -> None:
    store = _http_store(httpx.MockTransport(lambda _: httpx.Response(status, content=body)))
    with pytest.raises(error):
        store.get(CHUNK_ID, len(DATA))
    # A corrupt answer is a hash failure (reported to swarm health); missing or down is not.
    assert store.hash_failures == (1 if error is ChunkCorrupt else 0)


def test_http_store_transport_error_is_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(ChunkUnavailable):
        _http_store(httpx.MockTransport(refuse)).get(CHUNK_ID, len(DATA))
