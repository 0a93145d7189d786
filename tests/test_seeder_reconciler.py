"""The seeder's reconciler against fakes of its two edges (the catalog client, the swarm
session): what it seeds follows the listing and each version's manifest, image and patches."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from image_format.content_paths import blob_relpath
from image_format.manifest import DeltaRef, Manifest, TorrentRef
from seeder import reconciler as reconciler_module
from seeder.cli import main as seeder_main
from seeder.reconciler import Reconciler
from seeder.settings import SeederSettings
from swarm.errors import SwarmStopped


class FakeCatalog:
    """The distributor as the reconciler reads it: a listing and one manifest per version."""

    def __init__(self) -> None:
        self.manifests: dict[tuple[str, str], Manifest] = {}

    def versions(self) -> list[tuple[str, str]]:
        return list(self.manifests)

    def manifest(self, name: str, version: str) -> Manifest:
        return self.manifests[(name, version)]

    def torrent(self, sha256: str) -> bytes:
        return f"torrent {sha256}".encode()


@dataclass(frozen=True)
class FakeTorrent:
    torrent: bytes
    path: Path
    errors: dict[Path, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def error(self) -> str | None:
        return self.errors.get(self.path)


class FakeSession:
    """Records what is seeded; `errors[path]` makes that file's torrent report an error."""

    def __init__(self) -> None:
        self.seeding: set[tuple[bytes, Path]] = set()
        self.errors: dict[Path, str] = {}

    def add_seed(self, torrent: bytes, data_file: Path, *, seed_mode: bool = True) -> FakeTorrent:
        self.seeding.add((torrent, data_file))
        return FakeTorrent(torrent, data_file, self.errors)

    def remove(self, handle: FakeTorrent) -> None:
        self.seeding.remove((handle.torrent, handle.path))


def blob(root: Path, digest: str, size: int) -> str:
    path = root / "blobs" / blob_relpath(digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    return digest


def manifest(version: str, image: str, patches: dict[str, str]) -> Manifest:
    return Manifest(
        name="img",
        version=version,
        size=10,
        sha256=image,
        created="2026-01-01T00:00:00Z",
        torrent=TorrentRef(sha256="1" + image[1:], size=1),
        deltas=tuple(
            DeltaRef(
                from_version=base,
                from_sha256="0" * 64,
                sha256=digest,
                size=4,
                torrent=TorrentRef(sha256="2" + digest[1:], size=1),
            )
            for base, digest in patches.items()
        ),
    )


def test_it_seeds_images_and_patches_and_follows_re_signed_manifests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reconciler_module, "MANIFEST_REFRESH_SECONDS", 0.0)
    image, patch = blob(tmp_path, "a" * 64, 10), blob(tmp_path, "b" * 64, 4)
    catalog, session = FakeCatalog(), FakeSession()
    reconciler = Reconciler(settings_in(tmp_path), catalog, session)  # type: ignore[arg-type]
    try:
        catalog.manifests[("img", "2")] = manifest("2", image, {"1": patch})
        reconciler.reconcile()
        seeded = {(s.target.version, s.target.patch_from) for s in reconciler.seeding()}
        assert seeded == {("2", None), ("2", "1")}
        assert {path.name for _, path in session.seeding} == {image, patch}

        catalog.manifests[("img", "2")] = manifest("2", image, {})  # re-signed without it
        reconciler.reconcile()
        assert [(s.target.patch_from) for s in reconciler.seeding()] == [None]
        assert {path.name for _, path in session.seeding} == {image}

        del catalog.manifests[("img", "2")]  # retired
        reconciler.reconcile()
        assert reconciler.seeding() == [] and session.seeding == set()
    finally:
        reconciler.close()


def settings_in(tmp_path: Path) -> SeederSettings:
    return SeederSettings(distributor_url="http://x", data_dir=tmp_path, key="ed25519:x")


def test_a_torrent_that_fails_while_seeding_is_dropped_and_seeded_again_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reconciler_module, "RETRY_AFTER_SECONDS", 0.3)
    image = blob(tmp_path, "a" * 64, 10)
    catalog, session = FakeCatalog(), FakeSession()
    catalog.manifests[("img", "1")] = manifest("1", image, {})
    reconciler = Reconciler(settings_in(tmp_path), catalog, session)  # type: ignore[arg-type]
    try:
        reconciler.reconcile()
        (seeding,) = reconciler.seeding()
        path = seeding.data_file
        session.errors[path] = "No such file or directory"  # a read failed; libtorrent paused it
        reconciler.reconcile()  # dropped ...
        assert session.seeding == set()
        del session.errors[path]
        reconciler.reconcile()  # ... not at once (the file may still be gone) ...
        assert session.seeding == set()
        time.sleep(0.35)
        reconciler.reconcile()  # ... but once its retry time has come
        assert {p for _, p in session.seeding} == {path}
    finally:
        reconciler.close()


def test_the_download_of_a_version_retired_meanwhile_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stopped = threading.Event()

    def download_until_stopped(*args: Any, should_stop: Any, **kwargs: Any) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if should_stop():
                stopped.set()
                raise SwarmStopped("stopped")
            time.sleep(0.01)
        raise AssertionError("the retired version's download was never stopped")

    monkeypatch.setattr(reconciler_module, "download_file", download_until_stopped)
    catalog, session = FakeCatalog(), FakeSession()
    catalog.manifests[("img", "1")] = manifest("1", "c" * 64, {})  # no blob here: fetched
    reconciler = Reconciler(settings_in(tmp_path), catalog, session)  # type: ignore[arg-type]
    try:
        reconciler.reconcile()
        del catalog.manifests[("img", "1")]
        reconciler.reconcile()
        assert stopped.wait(5)
    finally:
        reconciler.close()
    assert reconciler.seeding() == [] and session.seeding == set()


def test_an_invalid_seeder_id_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = seeder_main(
        ["run", "--distributor", "http://127.0.0.1:9", "--data", str(tmp_path),
         "--key", "ed25519:x", "--seeder-id", "edge:1"]
    )  # fmt: skip
    assert code == 2
    assert "seeder-id" in capsys.readouterr().err


def test_one_blob_named_by_two_versions_is_downloaded_once_then_seeded_by_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    downloads: list[Path] = []
    release = threading.Event()

    def download(session: Any, torrent: bytes, partial: Path, **kwargs: Any) -> None:
        downloads.append(partial)
        assert release.wait(5)
        partial.write_bytes(b"x" * 10)

    monkeypatch.setattr(reconciler_module, "download_file", download)
    monkeypatch.setattr(reconciler_module, "_sha256", lambda path: "c" * 64)
    catalog, session = FakeCatalog(), FakeSession()
    catalog.manifests[("img", "1")] = manifest("1", "c" * 64, {})
    catalog.manifests[("img", "2")] = manifest("2", "c" * 64, {})  # the same content
    reconciler = Reconciler(settings_in(tmp_path), catalog, session)  # type: ignore[arg-type]
    try:
        reconciler.reconcile()
        reconciler.reconcile()
        release.set()
        deadline = time.monotonic() + 5
        while len(reconciler.seeding()) < 2 and time.monotonic() < deadline:
            reconciler.reconcile()
            time.sleep(0.02)
    finally:
        reconciler.close()
    assert len(downloads) == 1
    assert sorted(s.target.version for s in reconciler.seeding()) == ["1", "2"]
