"""Chunks at publish: the step packs each chunk once across versions and images (a new version's
packs hold only its new chunks, in image order), the index is a served blob named by the signed
manifest and locates every frame, `/v1/packs/sha256/{digest}` serves packs by Range and
`/v1/chunks/sha256/{id}` serves one frame as a slice of its pack (immutable, ETag, Range,
404/400); the image assembles byte for byte from either."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import httpx

from distributor.chunks.pack_store import PackStore
from distributor.chunks.publish_step import ChunkPublishStep
from distributor.storage.blob_store import LocalBlobStore
from image_format.chunks import (
    BLOCK_SIZE,
    ChunkIndex,
    ChunkLocation,
    ChunkParams,
    ChunkSpan,
    assemble,
    decompress_chunk,
    pack_path,
)
from image_format.content_paths import chunk_relpath
from tests.fixtures.distributor_server import RunningDistributor, publish

KIB = 1024
PARAMS = ChunkParams(min_size=16 * KIB, avg_size=64 * KIB, max_size=256 * KIB)


def _image(path: Path, seed: int, blocks: int = 1500) -> bytes:
    rng = random.Random(seed)
    data = rng.randbytes(blocks * BLOCK_SIZE // 2) + bytes(300 * BLOCK_SIZE)
    data += rng.randbytes(blocks * BLOCK_SIZE // 2) + b"tail"
    path.write_bytes(data)
    return data


def _edited(data: bytes, path: Path) -> bytes:
    """A new version: one block rewritten in the middle, two blocks inserted near the start."""
    middle = len(data) // 3 // BLOCK_SIZE * BLOCK_SIZE
    new = data[:middle] + b"\x55" * BLOCK_SIZE + data[middle + BLOCK_SIZE :]
    new = new[: 40 * BLOCK_SIZE] + b"\xaa" * 2 * BLOCK_SIZE + new[40 * BLOCK_SIZE :]
    path.write_bytes(new)
    return new


def _packs(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (root / "sha256").rglob("*") if p.is_file()}


def _frame(packs: dict[str, bytes], location: ChunkLocation) -> bytes:
    return packs[location.pack][location.offset : location.end]


def test_the_step_packs_a_chunk_shared_by_two_versions_once(tmp_path: Path) -> None:
    store = PackStore(tmp_path / "packs")
    blobs = LocalBlobStore(tmp_path / "blobs")
    step = ChunkPublishStep(store, blobs, params=PARAMS, level=3, pack_bytes=1 << 20)
    v1 = _image(tmp_path / "v1", seed=1)
    v2 = _edited(v1, tmp_path / "v2")
    first = step.chunk_blob(tmp_path / "v1")
    packs_v1 = _packs(store.root)
    assert first.packs_written == len(packs_v1) >= 2  # 1 MiB packs of ~3 MiB of frames
    second = step.chunk_blob(tmp_path / "v2")
    packs = _packs(store.root)
    assert all(packs[digest] == data for digest, data in packs_v1.items())  # immutable
    assert all(hashlib.sha256(data).hexdigest() == d for d, data in packs.items())
    ids1, ids2 = first.index.chunk_ids(), second.index.chunk_ids()
    assert len(ids1 & ids2) >= len(ids1) - 6  # the content-defined property on a real publish
    assert first.chunks_written == len(ids1)
    assert second.chunks_written == len(ids2 - ids1) > 0
    new_packs = set(packs) - set(packs_v1)
    assert second.packs_written == len(new_packs) == 1
    # v2's pack holds exactly its new chunks, in image order, back to back
    (new_pack,) = new_packs
    new_spans: list[tuple[ChunkSpan, ChunkLocation]] = []
    in_v1 = {span.chunk_id: location for span, location in first.index.located_spans()}
    for span, location in second.index.located_spans():
        if span.chunk_id in ids1:
            assert location == in_v1[span.chunk_id]  # not stored again
        elif all(span.chunk_id != s.chunk_id for s, _ in new_spans):
            new_spans.append((span, location))
    assert [loc.pack for _, loc in new_spans] == [new_pack] * len(new_spans)
    offsets = [loc.offset for _, loc in new_spans]
    assert offsets == sorted(offsets) and offsets[0] == 0
    assert sum(loc.length for _, loc in new_spans) == len(packs[new_pack])
    assert not any(span.is_zero for span, _ in second.index.located_spans())
    index_blob = blobs.path(second.ref.sha256).read_bytes()
    assert ChunkIndex.from_bytes(index_blob) == second.index and second.index.packed
    assert second.ref.size == len(index_blob) and second.ref.chunk_count == len(second.index)
    # What a host with no donors moves: every distinct data chunk's stored frame, once.
    stored = {span.chunk_id: loc.length for span, loc in second.index.located_spans()}
    assert (
        second.ref.data_chunk_bytes == sum(stored.values()) == second.index.ref().data_chunk_bytes
    )
    out = tmp_path / "out"
    where = {span.chunk_id: loc for span, loc in second.index.located_spans()}

    def from_packs(span: ChunkSpan) -> bytes:
        return decompress_chunk(_frame(packs, where[span.chunk_id]), span.chunk_id, span.size)

    assemble(second.index, from_packs, out)
    assert out.read_bytes() == v2
    again = step.chunk_blob(tmp_path / "v2")
    assert again.chunks_written == again.packs_written == 0 and again.ref == second.ref
    assert _packs(store.root) == packs


def test_published_versions_have_served_chunk_indexes_and_chunks(
    tmp_path: Path, distributor: RunningDistributor
) -> None:
    v1 = _image(tmp_path / "v1", seed=2, blocks=3000)
    v2 = _edited(v1, tmp_path / "v2")
    publish(distributor, "chunky", "1", tmp_path / "v1")
    publish(distributor, "chunky", "2", tmp_path / "v2")
    publish(distributor, "other", "1", tmp_path / "v1", kind="data")  # the same file again
    pack_root = distributor.data_dir / "packs"
    with httpx.Client(base_url=distributor.url) as http:
        indexes = []
        for name, version in [("chunky", "1"), ("chunky", "2"), ("other", "1")]:
            signed = http.get(f"/v1/images/{name}/versions/{version}/manifest").json()["signed"]
            ref = signed["chunk_index"]
            raw = http.get(f"/v1/blobs/sha256/{ref['sha256']}").content
            assert hashlib.sha256(raw).hexdigest() == ref["sha256"] and len(raw) == ref["size"]
            index = ChunkIndex.from_bytes(raw)
            assert ref["chunk_count"] == len(index) and index.size == signed["size"]
            assert ref["data_chunk_bytes"] == index.stored_data_bytes() > 0  # signed, served
            indexes.append(index)
        packs = _packs(pack_root)
        every_id = set().union(*(i.chunk_ids() for i in indexes))
        located = {loc for i in indexes for loc in i.locations if loc is not None}
        assert sum(loc.length for loc in located) == sum(map(len, packs.values()))
        assert len(located) == len(every_id)  # shared chunks stored once
        assert set(packs) == set(indexes[0].packs()) | set(indexes[1].packs())
        assert indexes[0] == indexes[2]
        v2_index = indexes[1]
        pack = v2_index.packs()[-1]
        whole = http.get(pack_path(pack))
        assert whole.status_code == 200 and whole.content == packs[pack]
        assert whole.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert whole.headers["etag"] == f'"{pack}"'
        ranged = http.get(pack_path(pack), headers={"Range": "bytes=5-1004"})
        assert ranged.status_code == 206 and ranged.content == packs[pack][5:1005]
        assert http.get(pack_path("0" * 64)).status_code == 404
        assert http.get("/v1/packs/sha256/NOTHEX").status_code == 400
        assert http.get("/v1/stats/origin").json()["blobs"]["packs"]["bytes_sent"] >= 1000
        span, location = next(v2_index.located_spans())
        url = f"/v1/chunks/sha256/{span.chunk_id}"
        answer = http.get(url)
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/zstd"
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert answer.headers["etag"] == f'"{span.chunk_id}"'
        assert answer.content == _frame(packs, location)
        assert decompress_chunk(answer.content, span.chunk_id, span.size)
        head = http.head(url)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(len(answer.content))
        cached = http.get(url, headers={"If-None-Match": answer.headers["etag"]})
        assert cached.status_code == 304
        part = http.get(url, headers={"Range": "bytes=0-9"})
        assert part.status_code == 206 and part.content == answer.content[:10]
        assert http.get(f"/v1/chunks/sha256/{'0' * 64}").status_code == 404
        legacy = distributor.data_dir / "chunks" / chunk_relpath("1" * 64)  # stored pre-packs
        legacy.parent.mkdir(parents=True)
        legacy.write_bytes(b"an old chunk file")
        assert http.get(f"/v1/chunks/sha256/{'1' * 64}").content == b"an old chunk file"
        assert http.get("/v1/chunks/sha256/NOTHEX").status_code == 400
        assert http.get("/v1/stats/origin").json()["blobs"]["chunks"]["bytes_sent"] >= len(
            answer.content
        )

        def over_http(span: ChunkSpan) -> bytes:
            body = http.get(f"/v1/chunks/sha256/{span.chunk_id}").content
            return decompress_chunk(body, span.chunk_id, span.size)

        out = tmp_path / "assembled"
        assemble(v2_index, over_http, out)
    assert out.read_bytes() == v2
