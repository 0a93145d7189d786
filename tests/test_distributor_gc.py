"""`distributor gc`: stored content no listed or recently retired version needs goes; everything
a needed version uses stays, and hosts still fetch it every way (chunks, patch, plain HTTP).
A real server and the real CLIs on loopback; the pieces (lock, location rows, refusal) in
process."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from distributor.catalog.base import VersionRecord
from distributor.catalog.sqlite import SqliteCatalog
from distributor.chunks.pack_store import PackStore
from distributor.collecting import collect
from distributor.collection_needs import CollectionRefused, ContentStores
from distributor.local_server import distributor_command
from distributor.storage.blob_store import LocalBlobStore
from distributor.storage.storage_lock import StorageBusy, StorageLock
from distributor.torrents.store import TorrentStore
from image_format.chunks import ChunkIndex, ChunkLocation
from image_format.content_paths import blob_relpath
from tests.fixtures.distributor_server import RunningDistributor, publish, run_cli
from tests.support import make_image
from tests.test_client_updates import fetched, get

SIZE = 2 * (1 << 20) + 333


def stores(data: Path) -> ContentStores:
    return ContentStores(
        LocalBlobStore(data / "blobs"),
        TorrentStore(data / "torrents"),
        PackStore(data / "packs"),
        StorageLock(data),
    )


def stored(data: Path) -> dict[str, set[str]]:
    """The digests each store holds (staging files aside)."""
    return {
        kind: {p.name for p in (data / kind).glob("sha256/*/*") if not p.name.startswith(".")}
        for kind in ("blobs", "torrents", "packs")
    }


def needs(summary: dict[str, Any], data: Path) -> dict[str, set[str]]:
    """What a version's manifest names: blobs (image, index, patches), torrents, packs."""
    signed = summary["signed"]
    blobs = {signed["sha256"], signed["chunk_index"]["sha256"]}
    blobs |= {delta["sha256"] for delta in signed.get("deltas", [])}
    torrents = {signed["torrent"]["sha256"]}
    torrents |= {delta["torrent"]["sha256"] for delta in signed.get("deltas", [])}
    index_path = data / "blobs" / blob_relpath(signed["chunk_index"]["sha256"])
    index = ChunkIndex.from_bytes(index_path.read_bytes())
    packs = {location.pack for _, location in index.located_spans()}
    return {"blobs": blobs, "torrents": torrents, "packs": packs}


def signed_of(data: Path, name: str, version: str) -> dict[str, Any]:
    catalog = SqliteCatalog(data / "catalog.sqlite")
    try:
        record = catalog.get_version(name, version, retired_too=True)
    finally:
        catalog.close()
    assert record is not None
    return {"signed": json.loads(record.envelope)["signed"]}


def aged(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def orphan_blob(data: Path, content: bytes) -> Path:
    digest = hashlib.sha256(content).hexdigest()
    path = data / "blobs" / blob_relpath(digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_gc_keeps_what_needed_versions_use_and_hosts_still_fetch_them(
    distributor: RunningDistributor, tmp_path: Path
) -> None:
    data = distributor.data_dir
    a, b, c = tmp_path / "a.img", tmp_path / "b.img", tmp_path / "c.img"
    make_image(a, SIZE, seed=1)
    b.write_bytes(os.urandom(SIZE // 4) + a.read_bytes()[SIZE // 4 :])  # shares most chunks
    make_image(c, SIZE, seed=3)
    for version, image in (("1.0", a), ("2.0", b), ("3.0", c)):
        publish(distributor, "deb", version, image)
    holder = tmp_path / "host-with-1.0"
    fetched(get(distributor, holder, "deb@1.0", "--via", "http"), a, "http")
    for version in ("3.0", "1.0"):
        assert run_cli("retire", "--data", str(data), "deb", version).returncode == 0
    old, young = orphan_blob(data, b"a publish that lost a race"), orphan_blob(data, b"new")
    aged(old, 7200)
    v2 = needs(signed_of(data, "deb", "2.0"), data)
    indexes = {signed_of(data, "deb", v)["signed"]["chunk_index"]["sha256"] for v in ("1.0", "3.0")}
    before = stored(data)

    # Retired just now: within a 1 h grace nothing of 1.0 or 3.0 goes, only the old orphan.
    dry = run_cli("gc", "--data", str(data), "--grace-hours", "1", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    report = json.loads(dry.stdout)
    assert report["removed"] == {"blobs": 1, "torrents": 0, "packs": 0} and report["dry_run"]
    assert [f["digest"] for f in report["removed_files"]] == [old.name]
    assert (report["needed_versions"], report["expired_versions"]) == (3, 0)
    assert stored(data) == before  # a dry run removes nothing

    done = run_cli("gc", "--data", str(data), "--grace-hours", "0", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["needed_versions"], report["expired_versions"]) == (1, 2)
    after = stored(data)
    for kind in ("blobs", "torrents", "packs"):
        assert v2[kind] <= after[kind], kind  # all 2.0 needs is still there
    # and nothing else, but the retired versions' chunk indexes (hosts holding them use them)
    assert after == {**v2, "blobs": v2["blobs"] | indexes}
    assert report["removed_bytes"] > 2 * SIZE and not old.exists() and not young.exists()

    # Hosts get 2.0 every way: chunks, the patch from 1.0 (whose own blob is gone), plain HTTP.
    fetched(get(distributor, tmp_path / "fresh", "deb@2.0", "--via", "chunks"), b, "chunks")
    fetched(get(distributor, holder, "deb@2.0", "--via", "delta"), b, "delta")
    fetched(get(distributor, tmp_path / "plain", "deb@2.0", "--via", "http"), b, "http")

    # 3.0's content published again as 4.0 is stored again (its pack rows went with its pack).
    publish(distributor, "deb", "4.0", c)
    v4 = needs(signed_of(data, "deb", "4.0"), data)
    assert v4["packs"] <= stored(data)["packs"]
    fetched(get(distributor, tmp_path / "v4", "deb@4.0", "--via", "chunks"), c, "chunks")


def test_location_rows_of_removed_packs_move_to_a_kept_copy_or_go(tmp_path: Path) -> None:
    packs = PackStore(tmp_path / "packs")
    gone, kept = "a" * 64, "b" * 64
    packs._record(
        [("c1", ChunkLocation(gone, 0, 10)), ("c2", ChunkLocation(gone, 10, 5)),
         ("c3", ChunkLocation(kept, 0, 7))]
    )  # fmt: skip
    packs.path(kept).parent.mkdir(parents=True)
    packs.path(kept).write_bytes(b"x" * 17)  # a kept pack on disk; "d"*64 is not
    relocate = {"c1": ChunkLocation(kept, 7, 10), "c2": ChunkLocation("d" * 64, 0, 5)}
    dropped = packs.forget_packs({gone}, relocate)
    assert dropped == 1  # c2: its other copy is in no pack on disk
    assert packs.locate_many(["c1", "c2", "c3"]) == {
        "c1": ChunkLocation(kept, 7, 10),
        "c3": ChunkLocation(kept, 0, 7),
    }


def listed(catalog: SqliteCatalog, data: Path, content: bytes) -> None:
    """A listed version `deb@1` whose image (and nothing else) is `content`, stored."""
    digest = orphan_blob(data, content).name
    signed = {
        "name": "deb", "version": "1", "kind": "image", "size": len(content), "sha256": digest,
        "created": "2026-11-26T00:00:00Z",
    }  # fmt: skip
    envelope = json.dumps({"signed": signed, "signatures": []}).encode()
    record = VersionRecord("deb", "1", "image", digest, len(content), signed["created"], envelope)
    catalog.add_version(record)


def test_gc_waits_for_publishes_and_gives_up_after_its_wait(tmp_path: Path) -> None:
    data = tmp_path / "data"
    catalog = SqliteCatalog(data / "catalog.sqlite")
    listed(catalog, data, b"an image")
    old = orphan_blob(data, b"unreferenced")
    aged(old, 7200)
    try:
        with StorageLock(data).shared(), pytest.raises(StorageBusy):
            collect(stores(data), catalog, grace_seconds=60, lock_wait_seconds=0.2)
        assert old.exists()
        report = collect(stores(data), catalog, grace_seconds=60, lock_wait_seconds=0.2)
    finally:
        catalog.close()
    assert not old.exists() and report.removed_bytes == len(b"unreferenced")


def test_a_manifest_with_fields_gc_does_not_know_stops_it_before_anything_goes(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    catalog = SqliteCatalog(data / "catalog.sqlite")
    signed = {
        "name": "deb", "version": "9", "kind": "image", "size": 1, "sha256": "c" * 64,
        "created": "2026-11-26T00:00:00Z", "sidecar": {"sha256": "d" * 64},
    }  # fmt: skip
    envelope = json.dumps({"signed": signed, "signatures": []}).encode()
    record = VersionRecord("deb", "9", "image", "c" * 64, 1, signed["created"], envelope)
    catalog.add_version(record)
    old = orphan_blob(data, b"maybe the sidecar")
    aged(old, 7200)
    try:
        with pytest.raises(CollectionRefused, match="deb@9"):
            collect(stores(data), catalog, grace_seconds=60)
    finally:
        catalog.close()
    assert old.exists()


def test_an_unreadable_chunk_index_keeps_every_pack(
    distributor: RunningDistributor, tmp_path: Path
) -> None:
    data = distributor.data_dir
    a, c = tmp_path / "a.img", tmp_path / "c.img"
    make_image(a, SIZE, seed=5)
    make_image(c, SIZE, seed=6)
    publish(distributor, "deb", "1.0", a)
    publish(distributor, "deb", "2.0", c)
    assert run_cli("retire", "--data", str(data), "deb", "1.0").returncode == 0
    index = signed_of(data, "deb", "2.0")["signed"]["chunk_index"]["sha256"]
    (data / "blobs" / blob_relpath(index)).unlink()
    packs_before = stored(data)["packs"]
    done = run_cli("gc", "--data", str(data), "--grace-hours", "0")
    assert done.returncode == 0, done.stderr
    assert "kept every pack: the chunk index of deb@2.0 could not be read" in done.stdout
    assert stored(data)["packs"] == packs_before


def test_a_nested_field_gc_does_not_know_stops_it_too(tmp_path: Path) -> None:
    data = tmp_path / "data"
    catalog = SqliteCatalog(data / "catalog.sqlite")
    delta = {"from_version": "8", "from_sha256": "e" * 64, "sha256": "f" * 64, "size": 1}
    signed = {
        "name": "deb", "version": "9", "kind": "image", "size": 1, "sha256": "c" * 64,
        "created": "2026-11-26T00:00:00Z", "deltas": [{**delta, "sidecar": {"sha256": "d" * 64}}],
    }  # fmt: skip
    envelope = json.dumps({"signed": signed, "signatures": []}).encode()
    catalog.add_version(
        VersionRecord("deb", "9", "image", "c" * 64, 1, signed["created"], envelope)
    )
    try:
        with pytest.raises(CollectionRefused, match=r"deltas\[0\]\.sidecar"):
            collect(stores(data), catalog, grace_seconds=60)
    finally:
        catalog.close()


def test_gc_refuses_a_catalog_that_is_not_the_servers(
    distributor: RunningDistributor, tmp_path: Path
) -> None:
    data = distributor.data_dir
    image = tmp_path / "a.img"
    make_image(image, SIZE, seed=7)
    publish(distributor, "deb", "1.0", image)
    for path in data.glob("*/sha256/*/*"):
        aged(path, 7200)
    before = stored(data)
    elsewhere = tmp_path / "elsewhere"

    def gc_with(catalog: Path) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "DISTRIBUTOR_CATALOG_URL": f"sqlite:///{catalog}"}
        argv = [*distributor_command(), "gc", "--data", str(data), "--grace-hours", "1"]
        return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=60)

    missing = gc_with(elsewhere / "catalog.sqlite")
    assert missing.returncode == 1 and "no such catalog" in missing.stderr
    assert not (elsewhere / "catalog.sqlite").exists()  # not made empty by looking
    SqliteCatalog(elsewhere / "empty.sqlite").close()
    empty = gc_with(elsewhere / "empty.sqlite")
    assert empty.returncode == 1 and "the catalog holds no version" in empty.stderr
    other = SqliteCatalog(elsewhere / "other.sqlite")
    record = SqliteCatalog(data / "catalog.sqlite").get_version("deb", "1.0")
    assert record is not None
    other.add_version(replace(record, name="other", sha256="a" * 64))
    other.close()
    mismatch = gc_with(elsewhere / "other.sqlite")
    assert mismatch.returncode == 1 and "image blob is not in the store" in mismatch.stderr
    assert stored(data) == before
