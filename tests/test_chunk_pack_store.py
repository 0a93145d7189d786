"""The distributor's pack store: a sealed pack is content-addressed and its chunks located; a
publish that fails leaves no partial pack and records nothing; the same chunk stored by two
publishers keeps the first location and both packs stay valid."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from distributor.chunks.pack_store import PackStore
from distributor.chunks.publish_step import ChunkPublishStep
from distributor.errors import StorageError
from distributor.storage.blob_store import LocalBlobStore
from image_format.chunks import ChunkLocation


def _leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob(".pack-*")]


def test_a_sealed_pack_is_named_by_its_sha256_and_its_chunks_located(tmp_path: Path) -> None:
    store = PackStore(tmp_path / "packs")
    writer = store.writer()
    writer.add("a" * 64, b"first frame")
    writer.add("b" * 64, b"second")
    entries = writer.seal()
    body = b"first framesecond"
    digest = hashlib.sha256(body).hexdigest()
    assert entries == [
        ("a" * 64, ChunkLocation(digest, 0, 11)),
        ("b" * 64, ChunkLocation(digest, 11, 6)),
    ]
    assert store.path(digest).read_bytes() == body
    assert store.locate("b" * 64) == ChunkLocation(digest, 11, 6)
    assert store.locate("c" * 64) is None
    assert store.locate_many(["a" * 64, "c" * 64]) == {"a" * 64: ChunkLocation(digest, 0, 11)}
    assert store.writer().seal() == []  # an empty pack is not stored
    assert _leftovers(store.root) == []


def test_the_first_location_of_a_chunk_wins_and_both_packs_stay(tmp_path: Path) -> None:
    root = tmp_path / "packs"
    one, two = PackStore(root).writer(), PackStore(root).writer()
    one.add("a" * 64, b"frame of a")
    two.add("x" * 64, b"x")
    two.add("a" * 64, b"frame of a")
    first = dict(one.seal())
    second = dict(two.seal())
    store = PackStore(root)
    assert store.locate("a" * 64) == first["a" * 64] != second["a" * 64]
    location = second["a" * 64]
    body = store.path(location.pack).read_bytes()
    assert body[location.offset : location.end] == b"frame of a"  # the loser's copy is valid


def test_a_failed_publish_leaves_no_partial_pack(tmp_path: Path) -> None:
    store = PackStore(tmp_path / "packs")
    step = ChunkPublishStep(store, LocalBlobStore(tmp_path / "blobs"))
    with pytest.raises(StorageError):
        step.chunk_blob(tmp_path / "no-such-image")
    assert _leftovers(store.root) == []
    assert list((store.root).rglob("sha256/*/*")) == []


def test_a_pack_cannot_pass_4_gib(tmp_path: Path) -> None:
    writer = PackStore(tmp_path / "packs").writer()
    writer.size = (1 << 32) - 10  # as if nearly full
    with pytest.raises(StorageError):
        writer.add("a" * 64, bytes(20))
    writer.discard()
    assert _leftovers(tmp_path / "packs") == []
