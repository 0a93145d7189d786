"""The seeder's reconciler against fakes of its two edges (the catalog client, the swarm
session): what it seeds follows the listing and each version's manifest, image and patches."""

from __future__ import annotations

from pathlib import Path

import pytest

from image_format.content_paths import blob_relpath
from image_format.manifest import DeltaRef, Manifest, TorrentRef
from seeder import reconciler as reconciler_module
from seeder.reconciler import Reconciler
from seeder.settings import SeederSettings


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


class FakeSession:
    """Records what is seeded; a handle is the (torrent, file) pair."""

    def __init__(self) -> None:
        self.seeding: set[tuple[bytes, Path]] = set()

    def add_seed(self, torrent: bytes, data_file: Path, *, seed_mode: bool = True) -> object:
        handle = (torrent, data_file)
        self.seeding.add(handle)
        return handle

    def remove(self, handle: tuple[bytes, Path]) -> None:
        self.seeding.remove(handle)


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
    settings = SeederSettings(distributor_url="http://x", data_dir=tmp_path, key="ed25519:x")
    reconciler = Reconciler(settings, catalog, session)  # type: ignore[arg-type]
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
