"""A remote seeder removes the files it downloaded for versions no longer listed, after a grace,
only in rounds that saw the listing and every listed manifest, and never anything else: files it
did not download, a distributor's data directory, a listing that names none of its files. The
reconciler against fakes of its edges (as in test_seeder_reconciler), a fake clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from image_format.content_paths import blob_relpath
from image_format.manifest import Manifest
from seeder import reconciler as reconciler_module
from seeder.catalog_client import CatalogUnavailable
from seeder.pruner import DownloadLedger, UnlistedFilePruner
from seeder.reconciler import Reconciler
from tests.test_seeder_reconciler import FakeCatalog, FakeSession, blob, manifest, settings_in

HOUR = 3600.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def stored(root: Path, digest: str) -> bool:
    return (root / "blobs" / blob_relpath(digest)).is_file()


def pruner_in(root: Path, clock: Clock, *downloaded: str) -> UnlistedFilePruner:
    """A pruner of `root`'s store with a 1 h grace, `downloaded` recorded as its downloads."""
    pruner = UnlistedFilePruner(root / "blobs", DownloadLedger(root / "seeder"), HOUR, clock)
    for digest in downloaded:
        pruner.record_download(digest)
    return pruner


class FlakyCatalog(FakeCatalog):
    """The fake catalog, whose manifests of `unreadable` versions cannot be read."""

    def __init__(self) -> None:
        super().__init__()
        self.unreadable: set[tuple[str, str]] = set()
        self.listing_down = False

    def versions(self) -> list[tuple[str, str]]:
        if self.listing_down:
            raise CatalogUnavailable("listing unavailable")
        return super().versions()

    def manifest(self, name: str, version: str) -> Manifest:
        if (name, version) in self.unreadable:
            raise CatalogUnavailable("manifest unavailable")
        return super().manifest(name, version)


def one_listed_one_not(tmp_path: Path) -> tuple[str, Clock, FlakyCatalog, Reconciler]:
    """Two downloaded files: version 2's, listed, and `old`, which no listed version names."""
    old, new = blob(tmp_path, "a" * 64, 10), blob(tmp_path, "b" * 64, 10)
    clock = Clock()
    pruner = pruner_in(tmp_path, clock, old, new)
    catalog = FlakyCatalog()
    catalog.manifests[("img", "2")] = manifest("2", new, {})
    reconciler = Reconciler(settings_in(tmp_path), catalog, FakeSession(), pruner)  # type: ignore[arg-type]
    return old, clock, catalog, reconciler


def test_a_retired_versions_files_go_after_the_grace_and_listed_ones_stay(tmp_path: Path) -> None:
    old, patch, new = blob(tmp_path, "a" * 64, 10), blob(tmp_path, "b" * 64, 4), "c" * 64
    blob(tmp_path, new, 10)
    clock = Clock()
    pruner = pruner_in(tmp_path, clock, old, patch, new)
    catalog, session = FakeCatalog(), FakeSession()
    catalog.manifests[("img", "1")] = manifest("1", old, {})
    catalog.manifests[("img", "2")] = manifest("2", new, {"1": patch})
    reconciler = Reconciler(settings_in(tmp_path), catalog, session, pruner)  # type: ignore[arg-type]
    try:
        reconciler.reconcile()
        del catalog.manifests[("img", "1")]  # retired: its image is named by nothing now
        reconciler.reconcile()
        clock.now += HOUR - 1
        reconciler.reconcile()
        assert stored(tmp_path, old)  # within the grace
        clock.now += 2
        reconciler.reconcile()
        assert not stored(tmp_path, old)
        assert stored(tmp_path, new) and stored(tmp_path, patch)  # 2 and its patch stay
        assert DownloadLedger(tmp_path / "seeder").digests() == {new, patch}

        catalog.manifests.clear()  # an empty listing is taken for a fault: nothing goes
        for _ in range(3):
            reconciler.reconcile()
            clock.now += 10 * HOUR
        assert stored(tmp_path, new) and stored(tmp_path, patch)
    finally:
        reconciler.close()


def test_only_files_it_downloaded_go_and_a_listing_naming_none_of_them_removes_nothing(
    tmp_path: Path,
) -> None:
    mine, placed, other = blob(tmp_path, "a" * 64, 4), blob(tmp_path, "b" * 64, 4), "c" * 64
    blob(tmp_path, other, 4)
    clock = Clock()
    pruner = pruner_in(tmp_path, clock, mine, other)
    for _ in range(3):
        assert pruner.prune({"d" * 64}) == []  # names none of its downloads: a wrong server?
        clock.now += 2 * HOUR
    assert pruner.prune({other}) == []  # counts start now
    clock.now += 2 * HOUR
    assert [p.name for p in pruner.prune({other})] == [mine]
    assert stored(tmp_path, placed)  # never downloaded by this seeder: never a candidate


def test_a_round_that_could_not_read_a_manifest_starts_every_count_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reconciler_module, "RETRY_AFTER_SECONDS", 0.0)
    old, clock, catalog, reconciler = one_listed_one_not(tmp_path)
    try:
        reconciler.reconcile()  # 1's file is unnamed from now
        clock.now += HOUR - 1
        catalog.manifests[("img", "3")] = manifest("3", "c" * 64, {})
        catalog.unreadable.add(("img", "3"))
        reconciler.reconcile()  # a listed manifest unread: no pruning, counts reset
        catalog.unreadable.clear()
        clock.now += 2
        reconciler.reconcile()
        assert stored(tmp_path, old)  # its count started again
        clock.now += HOUR
        reconciler.reconcile()
        assert not stored(tmp_path, old) and stored(tmp_path, "b" * 64)
    finally:
        reconciler.close()


def test_a_listed_version_without_torrents_keeps_its_file(tmp_path: Path) -> None:
    image, retired = blob(tmp_path, "a" * 64, 10), blob(tmp_path, "f" * 64, 10)
    clock = Clock()
    pruner = pruner_in(tmp_path, clock, image, retired, "b" * 64)
    catalog, session = FakeCatalog(), FakeSession()
    catalog.manifests[("img", "1")] = manifest("1", image, {}).model_copy(update={"torrent": None})
    catalog.manifests[("img", "2")] = manifest("2", blob(tmp_path, "b" * 64, 10), {})
    reconciler = Reconciler(settings_in(tmp_path), catalog, session, pruner)  # type: ignore[arg-type]
    try:
        for _ in range(3):
            reconciler.reconcile()
            clock.now += 2 * HOUR
        assert not stored(tmp_path, retired)  # the rounds did prune
        assert stored(tmp_path, image)  # listed, though there is nothing to seed it with
    finally:
        reconciler.close()


def test_never_in_a_distributors_data_directory_even_one_it_becomes_later(tmp_path: Path) -> None:
    clock = Clock()
    for mark in ("keys", "blobs/tmp"):
        root = tmp_path / mark.replace("/", "-")
        image = blob(root, "a" * 64, 4)
        pruner = pruner_in(root, clock, image)
        assert pruner.prune({"b" * 64, image}) == []
        (root / mark).mkdir(parents=True)  # the distributor's (a key, its blob staging)
        clock.now += 2 * HOUR
        assert pruner.prune({"b" * 64}) == [] and stored(root, image)
        (root / mark).rmdir()
        clock.now += 2 * HOUR
        assert pruner.prune({"b" * 64}) == [] and stored(root, image)  # off for good
    keep = settings_in(tmp_path).model_copy(update={"remove_unlisted_after_hours": 0})
    assert UnlistedFilePruner.for_settings(keep) is None


def test_a_round_that_could_not_read_the_listing_starts_every_count_again(
    tmp_path: Path,
) -> None:
    old, clock, catalog, reconciler = one_listed_one_not(tmp_path)
    try:
        reconciler.reconcile()  # 1's file is unnamed from now
        clock.now += HOUR - 1
        catalog.listing_down = True
        with pytest.raises(CatalogUnavailable):
            reconciler.reconcile()
        catalog.listing_down = False
        clock.now += 2
        reconciler.reconcile()
        assert stored(tmp_path, old)  # its count started again
        clock.now += HOUR
        reconciler.reconcile()
        assert not stored(tmp_path, old)
    finally:
        reconciler.close()
