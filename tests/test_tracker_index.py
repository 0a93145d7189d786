"""Which hashes the tracker knows: read from the catalog's signed manifests, refreshed on a miss."""

from __future__ import annotations

from pathlib import Path

import pytest

from distributor.catalog.base import VersionRecord
from distributor.catalog.sqlite import SqliteCatalog
from distributor.tracker.torrent_index import CatalogTorrentIndex, TorrentIndex
from image_format.manifest import DeltaRef, Manifest, TorrentRef
from image_format.signing import SigningKey, sign_manifest

KEY = SigningKey.generate()


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def record(
    version: str,
    torrent: TorrentRef | None,
    name: str = "img",
    deltas: tuple[DeltaRef, ...] = (),
) -> VersionRecord:
    digest = (version.encode().hex() * 64)[:64]
    manifest = Manifest(
        name=name,
        version=version,
        size=1,
        sha256=digest,
        created="2026-01-01T00:00:00Z",
        torrent=torrent,
        deltas=deltas,
    )
    return VersionRecord(
        name, version, "image", digest, 1, manifest.created, sign_manifest(manifest, KEY)
    )


def ref(v1: str | None, v2: str | None = None) -> TorrentRef:
    return TorrentRef(sha256="c" * 64, size=100, info_hash_v1=v1, info_hash_v2=v2)


@pytest.fixture
def catalog(tmp_path: Path) -> SqliteCatalog:
    return SqliteCatalog(tmp_path / "catalog.sqlite")


def test_hashes_from_catalog_records(catalog: SqliteCatalog) -> None:
    catalog.add_version(record("1", ref("aa" * 20, "bb" * 32)))
    catalog.add_version(record("2", None))
    catalog.add_version(record("3", ref(None, "cc" * 32)))
    index = CatalogTorrentIndex(catalog)
    hybrid = index.lookup(bytes.fromhex("aa" * 20))
    assert hybrid is not None
    assert hybrid == index.lookup(bytes.fromhex("bb" * 20))
    assert hybrid.swarm == bytes.fromhex("aa" * 20)
    assert hybrid.versions == (("img", "1"),)
    v2_only = index.for_version("img", "3")
    assert v2_only is not None and v2_only.swarm == bytes.fromhex("cc" * 20)
    assert index.for_version("img", "2") is None
    assert len(index.entries()) == 2


class CountingCatalog:
    """The catalog, counting how often the index reads it whole."""

    def __init__(self, catalog: SqliteCatalog) -> None:
        self.catalog = catalog
        self.reads = 0

    def list_images(self) -> dict[str, list[VersionRecord]]:
        self.reads += 1
        return self.catalog.list_images()

    def generation(self) -> tuple[int, ...]:
        return self.catalog.generation()


def test_a_new_version_is_found_by_its_first_announce(
    catalog: SqliteCatalog, tmp_path: Path
) -> None:
    clock = Clock()
    counting = CountingCatalog(catalog)
    index = CatalogTorrentIndex(counting, refresh_min_seconds=1.0, clock=clock)  # type: ignore[arg-type]
    assert index.lookup(b"\xdd" * 20) is None  # first read of the catalog
    catalog.add_version(record("4", ref("dd" * 20)))  # published by this process
    entry = index.lookup(b"\xdd" * 20)  # at once, within the interval
    assert entry is not None and entry.versions == (("img", "4"),)
    other_process = SqliteCatalog(tmp_path / "catalog.sqlite")  # e.g. `distributor publish`
    other_process.add_version(record("5", ref("ee" * 20)))
    assert index.lookup(b"\xee" * 20) is not None
    assert counting.reads == 3


def test_unknown_hashes_do_not_re_read_an_unchanged_catalog(catalog: SqliteCatalog) -> None:
    clock = Clock()
    counting = CountingCatalog(catalog)
    index = CatalogTorrentIndex(counting, refresh_min_seconds=1.0, clock=clock)  # type: ignore[arg-type]
    for n in range(100):
        assert index.lookup(bytes([n]) * 20) is None
    assert counting.reads == 1
    clock.now += 1.0  # past the interval, one more read
    assert index.lookup(b"\x01" * 20) is None
    assert counting.reads == 2


def test_an_unreadable_manifest_is_left_out(catalog: SqliteCatalog) -> None:
    catalog.add_version(VersionRecord("bad", "1", "image", "e" * 64, 1, "x", b"not json"))
    catalog.add_version(record("5", ref("ee" * 20)))
    index = CatalogTorrentIndex(catalog)
    assert [entry.versions for entry in index.entries()] == [(("img", "5"),)]


def test_versions_sharing_a_torrent_share_a_swarm() -> None:
    index = TorrentIndex(
        [
            ("a", "1", ref("01" * 20)),
            ("b", "1", ref(None, "02" * 32)),
            ("c", "1", ref("01" * 20, "02" * 32)),  # joins both into one swarm
        ]
    )
    (entry,) = index.entries()
    assert entry.versions == (("a", "1"), ("b", "1"), ("c", "1"))
    assert entry.swarm == bytes.fromhex("01" * 20)
    late_v1 = TorrentIndex(
        [("b", "1", ref(None, "02" * 32)), ("c", "1", ref("01" * 20, "02" * 32))]
    )
    assert late_v1.entries()[0].swarm == bytes.fromhex("01" * 20)  # the v1 hash keys the swarm
    assert set(entry.hashes) == {bytes.fromhex("01" * 20), bytes.fromhex("02" * 20)}


def patch(base: str, torrent: TorrentRef | None) -> DeltaRef:
    return DeltaRef(
        from_version=base, from_sha256="a" * 64, sha256="d" * 64, size=10, torrent=torrent
    )


def test_each_patch_with_a_torrent_has_a_swarm_of_its_own(catalog: SqliteCatalog) -> None:
    deltas = (patch("1", ref("a1" * 20, "b1" * 32)), patch("0", None), patch("2", ref("a2" * 20)))
    catalog.add_version(record("3", ref("33" * 20), deltas=deltas))
    index = CatalogTorrentIndex(catalog)
    from_1 = index.lookup(bytes.fromhex("b1" * 20))
    assert from_1 is not None and from_1 == index.lookup(bytes.fromhex("a1" * 20))
    assert from_1.patches == (("img", "3", "1"),) and from_1.versions == ()
    assert index.for_patch("img", "3", "1") == from_1
    assert index.for_patch("img", "3", "0") is None
    from_2 = index.for_patch("img", "3", "2")
    assert from_2 is not None and from_2.swarm == bytes.fromhex("a2" * 20)
    image = index.for_version("img", "3")
    assert image is not None and image.swarm == bytes.fromhex("33" * 20) and image.patches == ()
    assert len(index.entries()) == 3
