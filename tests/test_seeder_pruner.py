"""A remote seeder removes the files of versions no longer listed, after a grace and only when it
knows every listed version's manifest; never in a distributor's data directory. The reconciler
against fakes of its edges (as in test_seeder_reconciler), the pruner with a fake clock."""

from __future__ import annotations

from pathlib import Path

from image_format.content_paths import blob_relpath
from seeder.pruner import UnlistedFilePruner
from seeder.reconciler import Reconciler
from seeder.settings import SeederSettings
from tests.test_seeder_reconciler import FakeCatalog, FakeSession, blob, manifest, settings_in


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def stored(root: Path, digest: str) -> bool:
    return (root / "blobs" / blob_relpath(digest)).is_file()


def test_a_retired_versions_files_go_after_the_grace_and_listed_ones_stay(tmp_path: Path) -> None:
    old, patch, new = blob(tmp_path, "a" * 64, 10), blob(tmp_path, "b" * 64, 4), "c" * 64
    blob(tmp_path, new, 10)
    clock = Clock()
    pruner = UnlistedFilePruner(tmp_path / "blobs", after_seconds=3600, clock=clock)
    catalog, session = FakeCatalog(), FakeSession()
    catalog.manifests[("img", "1")] = manifest("1", old, {})
    catalog.manifests[("img", "2")] = manifest("2", new, {"1": patch})
    reconciler = Reconciler(settings_in(tmp_path), catalog, session, pruner)  # type: ignore[arg-type]
    try:
        reconciler.reconcile()
        del catalog.manifests[("img", "1")]  # retired: its image is named by nothing now
        reconciler.reconcile()
        clock.now += 3599
        reconciler.reconcile()
        assert stored(tmp_path, old)  # within the grace
        clock.now += 2
        reconciler.reconcile()
        assert not stored(tmp_path, old)
        assert stored(tmp_path, new) and stored(tmp_path, patch)  # 2.0 and its patch stay

        catalog.manifests.clear()  # an empty listing is taken for a fault: nothing goes
        for _ in range(3):
            reconciler.reconcile()
            clock.now += 10 * 3600
        assert stored(tmp_path, new) and stored(tmp_path, patch)
    finally:
        reconciler.close()


def test_a_version_listed_again_within_the_grace_keeps_its_file(tmp_path: Path) -> None:
    image = blob(tmp_path, "a" * 64, 10)
    clock = Clock()
    pruner = UnlistedFilePruner(tmp_path / "blobs", after_seconds=3600, clock=clock)
    assert pruner.prune(set()) == []
    clock.now += 3000
    assert pruner.prune({image}) == []  # named again: its count starts over
    clock.now += 3000
    assert pruner.prune(set()) == [] and stored(tmp_path, image)
    clock.now += 3600
    assert [p.name for p in pruner.prune(set())] == [image]


class ManifestOutage(FakeCatalog):
    """Lists versions but cannot serve the manifest of `missing`."""

    missing: tuple[str, str] = ("img", "2")

    def manifest(self, name: str, version: str):  # type: ignore[no-untyped-def]
        if (name, version) == self.missing:
            from seeder.catalog_client import CatalogUnavailable

            raise CatalogUnavailable("manifest unavailable")
        return super().manifest(name, version)


def test_nothing_goes_while_a_listed_versions_manifest_is_unknown(tmp_path: Path) -> None:
    first, second = blob(tmp_path, "a" * 64, 10), blob(tmp_path, "b" * 64, 10)
    clock = Clock()
    pruner = UnlistedFilePruner(tmp_path / "blobs", after_seconds=60, clock=clock)
    catalog, session = ManifestOutage(), FakeSession()
    catalog.manifests[("img", "1")] = manifest("1", first, {})
    catalog.manifests[("img", "2")] = manifest("2", second, {})  # its manifest cannot be read
    reconciler = Reconciler(settings_in(tmp_path), catalog, session, pruner)  # type: ignore[arg-type]
    try:
        for _ in range(3):
            reconciler.reconcile()
            clock.now += 3600
        assert stored(tmp_path, second)  # 2's file is not taken for unlisted
    finally:
        reconciler.close()


def test_never_in_a_distributors_data_directory_and_not_when_told_to_keep(
    tmp_path: Path,
) -> None:
    own = settings_in(tmp_path / "own")
    assert isinstance(UnlistedFilePruner.for_settings(own), UnlistedFilePruner)
    shared = tmp_path / "distributor-data"
    (shared / "keys").mkdir(parents=True)
    co_located = SeederSettings(distributor_url="http://x", data_dir=shared, key="ed25519:x")
    assert UnlistedFilePruner.for_settings(co_located) is None
    keep = own.model_copy(update={"remove_unlisted_after_hours": 0})
    assert UnlistedFilePruner.for_settings(keep) is None
