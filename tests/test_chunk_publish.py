"""Chunks at publish: the step stores each chunk once across versions and images, the index is a
served blob named by the signed manifest, and `/v1/chunks/sha256/{id}` serves the zstd frames
(immutable, ETag, Range, 404/400) from which the image assembles byte for byte."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import httpx

from distributor.chunks.publish_step import ChunkPublishStep
from distributor.chunks.store import ChunkStore
from distributor.storage.blob_store import LocalBlobStore
from image_format.chunks import (
    BLOCK_SIZE,
    ChunkIndex,
    ChunkParams,
    ChunkSpan,
    assemble,
    decompress_chunk,
)
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


def _stored(root: Path) -> dict[str, Path]:
    return {p.name: p for p in root.rglob("*") if p.is_file()}


def test_the_step_stores_a_chunk_shared_by_two_versions_once(tmp_path: Path) -> None:
    store = ChunkStore(tmp_path / "chunks")
    blobs = LocalBlobStore(tmp_path / "blobs")
    step = ChunkPublishStep(store, blobs, params=PARAMS, level=3)
    v1 = _image(tmp_path / "v1", seed=1)
    v2 = _edited(v1, tmp_path / "v2")
    first = step.chunk_blob(tmp_path / "v1")
    stored_after_v1 = {cid: p.stat().st_ino for cid, p in _stored(store.root).items()}
    second = step.chunk_blob(tmp_path / "v2")
    ids1 = {s.chunk_id for s in first.index.spans}
    ids2 = {s.chunk_id for s in second.index.spans}
    shared = ids1 & ids2
    assert len(shared) >= len(ids1) - 4  # the content-defined property on a real publish
    stored = _stored(store.root)
    assert set(stored) == ids1 | ids2  # every id once, zero chunks included
    assert first.chunks_written == len(ids1)
    assert second.chunks_written == len(ids2 - ids1)
    for cid in shared:  # not rewritten
        assert stored[cid].stat().st_ino == stored_after_v1[cid]
    index_blob = blobs.path(second.ref.sha256).read_bytes()
    assert ChunkIndex.from_bytes(index_blob) == second.index
    assert second.ref.size == len(index_blob) and second.ref.chunk_count == len(second.index)
    out = tmp_path / "out"

    def from_store(span: ChunkSpan) -> bytes:
        return decompress_chunk(store.path(span.chunk_id).read_bytes(), span.chunk_id, span.size)

    assemble(second.index, from_store, out)
    assert out.read_bytes() == v2
    again = step.chunk_blob(tmp_path / "v2")
    assert again.chunks_written == 0 and again.ref == second.ref


def test_published_versions_have_served_chunk_indexes_and_chunks(
    tmp_path: Path, distributor: RunningDistributor
) -> None:
    v1 = _image(tmp_path / "v1", seed=2, blocks=3000)
    v2 = _edited(v1, tmp_path / "v2")
    publish(distributor, "chunky", "1", tmp_path / "v1")
    publish(distributor, "chunky", "2", tmp_path / "v2")
    publish(distributor, "other", "1", tmp_path / "v1", kind="data")  # the same file again
    chunk_root = distributor.data_dir / "chunks"
    with httpx.Client(base_url=distributor.url) as http:
        indexes = []
        for name, version in [("chunky", "1"), ("chunky", "2"), ("other", "1")]:
            signed = http.get(f"/v1/images/{name}/versions/{version}/manifest").json()["signed"]
            ref = signed["chunk_index"]
            raw = http.get(f"/v1/blobs/sha256/{ref['sha256']}").content
            assert hashlib.sha256(raw).hexdigest() == ref["sha256"] and len(raw) == ref["size"]
            index = ChunkIndex.from_bytes(raw)
            assert ref["chunk_count"] == len(index) and index.size == signed["size"]
            indexes.append(index)
        every_id = set().union(*({s.chunk_id for s in i.spans} for i in indexes))
        assert set(_stored(chunk_root)) == every_id  # shared chunks stored once
        assert indexes[0] == indexes[2]
        v2_index = indexes[1]
        span = v2_index.data_spans[0]
        url = f"/v1/chunks/sha256/{span.chunk_id}"
        answer = http.get(url)
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/zstd"
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert answer.headers["etag"] == f'"{span.chunk_id}"'
        assert decompress_chunk(answer.content, span.chunk_id, span.size)
        head = http.head(url)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(len(answer.content))
        cached = http.get(url, headers={"If-None-Match": answer.headers["etag"]})
        assert cached.status_code == 304
        part = http.get(url, headers={"Range": "bytes=0-9"})
        assert part.status_code == 206 and part.content == answer.content[:10]
        assert http.get(f"/v1/chunks/sha256/{'0' * 64}").status_code == 404
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
