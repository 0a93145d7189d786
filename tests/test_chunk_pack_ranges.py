"""`PackRangeStore` against fake mirrors of our own `PackMirror` protocol: one request per planned
range, frames kept until used as often as planned, a range failing on one mirror read from the
next, a corrupt chunk fetched alone from another mirror and counted, the error rule when every
mirror fails."""

from __future__ import annotations

import hashlib
import random

import httpx
import pytest

from client_fetch.chunkstores.base import ChunkMissing, ChunkUnavailable
from client_fetch.chunkstores.pack_mirror import PackMirror, PackMissing, PackUnavailable
from client_fetch.chunkstores.pack_ranges import PackRangeStore
from image_format.chunks import ChunkLocation, compress_chunk, plan_ranges


class FakeMirror(PackMirror):
    """Packs in memory; `fail` maps a pack digest to "missing" or "down"; `corrupt` flips the
    first byte of one chunk's frame in whatever range holds it."""

    def __init__(
        self,
        name: str,
        packs: dict[str, bytes],
        *,
        fail: dict[str, str] | None = None,
        corrupt: ChunkLocation | None = None,
    ) -> None:
        super().__init__(f"http://{name}", httpx.Client())
        self._packs = packs
        self._fail = fail or {}
        self._corrupt = corrupt
        self.calls: list[tuple[str, int, int]] = []

    def read(self, pack: str, start: int, end: int) -> bytes:
        self.calls.append((pack, start, end))
        if self._fail.get(pack) == "missing":
            raise PackMissing(self.name, "no such pack")
        if self._fail.get(pack) == "down":
            raise PackUnavailable(self.name, "HTTP 503")
        body = bytearray(self._packs[pack][start:end])
        bad = self._corrupt
        if bad is not None and bad.pack == pack and start <= bad.offset < end:
            body[bad.offset - start + 8] ^= 0xFF
        self.bytes_moved += len(body)
        return bytes(body)


def _packs(count: int = 12) -> tuple[dict[str, bytes], list[tuple[str, bytes, ChunkLocation]]]:
    """Two packs of `count // 2` chunks each: (chunk id, bytes, location) in pack order."""
    rng = random.Random(7)
    packs: dict[str, bytes] = {}
    chunks = []
    for _ in range(2):
        body = bytearray()
        members = []
        for _ in range(count // 2):
            raw = rng.randbytes(3000)
            frame = compress_chunk(raw, 3)
            members.append((hashlib.sha256(raw).hexdigest(), raw, len(body), len(frame)))
            body += frame
        digest = hashlib.sha256(body).hexdigest()
        packs[digest] = bytes(body)
        chunks += [(cid, raw, ChunkLocation(digest, off, n)) for cid, raw, off, n in members]
    return packs, chunks


def _store(
    mirrors: list[PackMirror],
    chunks: list[tuple[str, bytes, ChunkLocation]],
    wanted: list[int],
    uses: dict[str, int] | None = None,
) -> PackRangeStore:
    locations = {cid: loc for cid, _, loc in chunks}
    ranges = plan_ranges([(chunks[n][0], chunks[n][2]) for n in wanted], max_gap=4000)
    planned = uses or {chunks[n][0]: 1 for n in wanted}
    return PackRangeStore(mirrors, ranges, locations, planned, read_ahead=2)


def test_one_request_per_range_and_gaps_are_read() -> None:
    packs, chunks = _packs()
    mirror = FakeMirror("a", packs)
    wanted = [0, 1, 3, 7, 8]  # chunk 2 is a gap inside pack 1's range
    with _store([mirror], chunks, wanted) as store:
        for n in wanted:
            assert store.get(chunks[n][0], 3000) == chunks[n][1]
    first, second = sorted(mirror.calls, key=lambda call: list(packs).index(call[0]))
    assert first == (chunks[0][2].pack, 0, chunks[3][2].end)
    assert second == (chunks[7][2].pack, chunks[7][2].offset, chunks[8][2].end)
    assert mirror.bytes_moved == sum(end - start for _, start, end in mirror.calls)
    assert mirror.hash_failures == 0


def test_a_chunk_used_twice_is_fetched_once() -> None:
    packs, chunks = _packs()
    mirror = FakeMirror("a", packs)
    cid = chunks[4][0]
    with _store([mirror], chunks, [4, 5], uses={cid: 2, chunks[5][0]: 1}) as store:
        for _ in range(2):
            assert store.get(cid, 3000) == chunks[4][1]
        assert store.get(chunks[5][0], 3000) == chunks[5][1]
    assert len(mirror.calls) == 1
    with _store([mirror], chunks, [4]) as store:  # asked more often than planned: alone
        store.get(cid, 3000)
        store.get(cid, 3000)
    assert mirror.calls[-1] == (chunks[4][2].pack, chunks[4][2].offset, chunks[4][2].end)


@pytest.mark.parametrize("how", ["missing", "down"])
def test_a_range_failing_on_one_mirror_comes_from_the_next(how: str) -> None:
    packs, chunks = _packs()
    pack = chunks[0][2].pack
    bad, good = FakeMirror("bad", packs, fail={pack: how}), FakeMirror("good", packs)
    with _store([bad, good], chunks, [0, 1, 2, 6]) as store:
        for n in [0, 1, 2, 6]:
            assert store.get(chunks[n][0], 3000) == chunks[n][1]
    assert [call[0] for call in bad.calls].count(pack) == 1
    assert [call[0] for call in good.calls] == [pack]  # the other pack came from `bad`
    assert bad.hash_failures == good.hash_failures == 0


def test_a_corrupt_chunk_is_fetched_alone_from_another_mirror_and_counted() -> None:
    packs, chunks = _packs()
    target = chunks[1][2]
    bad, good = FakeMirror("bad", packs, corrupt=target), FakeMirror("good", packs)
    with _store([bad, good], chunks, [0, 1, 2]) as store:
        for n in [0, 1, 2]:
            assert store.get(chunks[n][0], 3000) == chunks[n][1]
    assert bad.hash_failures == 1 and len(bad.calls) == 1
    assert good.calls == [(target.pack, target.offset, target.end)]


def test_every_mirror_failing_follows_the_error_rule() -> None:
    packs, chunks = _packs()
    pack = chunks[0][2].pack
    cid = chunks[0][0]
    gone = [FakeMirror(n, packs, fail={pack: "missing"}) for n in "ab"]
    with _store(list(gone), chunks, [0]) as store, pytest.raises(ChunkMissing):
        store.get(cid, 3000)
    mixed = [
        FakeMirror("a", packs, fail={pack: "missing"}),
        FakeMirror("b", packs, fail={pack: "down"}),
    ]
    with _store(list(mixed), chunks, [0]) as store, pytest.raises(ChunkUnavailable):
        store.get(cid, 3000)
    corrupt = [FakeMirror(n, packs, corrupt=chunks[0][2]) for n in "ab"]
    with _store(list(corrupt), chunks, [0]) as store, pytest.raises(ChunkUnavailable):
        store.get(cid, 3000)
    assert sum(m.hash_failures for m in corrupt) == 2
    with _store([FakeMirror("a", packs)], chunks, [0]) as store, pytest.raises(ChunkMissing):
        store.get("f" * 64, 3000)  # the index does not locate it


def test_an_unplanned_chunk_is_fetched_alone() -> None:
    packs, chunks = _packs()
    mirror = FakeMirror("a", packs)
    with _store([mirror], chunks, [0]) as store:
        assert store.get(chunks[9][0], 3000) == chunks[9][1]  # e.g. a donor turned out damaged
    loc = chunks[9][2]
    assert (loc.pack, loc.offset, loc.end) in mirror.calls


# -- PackMirror over HTTP (httpx mock transport) --------------------------------------------------

PACK = bytes(range(256)) * 64
DIGEST = hashlib.sha256(PACK).hexdigest()


def _mirror(answer: str) -> PackMirror:
    def handle(request: httpx.Request) -> httpx.Response:
        assert request.url.path == f"/v1/packs/sha256/{DIGEST}"
        first, last = (int(x) for x in request.headers["range"][6:].split("-"))
        body = PACK[first : last + 1]
        content_range = {"Content-Range": f"bytes {first}-{last}/{len(PACK)}"}
        if answer == "ok":
            return httpx.Response(206, content=body, headers=content_range)
        if answer == "ignores-range":
            return httpx.Response(200, content=PACK)
        if answer == "too-long":
            return httpx.Response(206, content=body + PACK, headers=content_range)
        if answer == "other-range":
            return httpx.Response(206, content=body, headers={"Content-Range": "bytes 0-9/99"})
        return httpx.Response(int(answer), content=b'{"error": "x"}')

    return PackMirror("http://mirror.test/", httpx.Client(transport=httpx.MockTransport(handle)))


def test_pack_mirror_reads_the_range_and_counts_what_came() -> None:
    mirror = _mirror("ok")
    assert mirror.read(DIGEST, 100, 300) == PACK[100:300]
    assert (mirror.bytes_moved, mirror.requests) == (200, 1)
    whole = _mirror("ignores-range")
    assert whole.read(DIGEST, 100, 300) == PACK[100:300]
    assert whole.bytes_moved == 300  # the prefix it had to read, no more


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ("404", PackMissing),
        ("500", PackUnavailable),
        ("416", PackUnavailable),
        ("too-long", PackUnavailable),
        ("other-range", PackUnavailable),
    ],
)
def test_pack_mirror_maps_bad_answers_to_the_error_rule(
    answer: str, error: type[Exception]
) -> None:
    mirror = _mirror(answer)
    with pytest.raises(error):
        mirror.read(DIGEST, 100, 300)
    assert mirror.bytes_moved <= 201  # a body that is too long is not read past one byte
