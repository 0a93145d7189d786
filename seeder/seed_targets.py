"""`SeedTarget`: one file a seeder serves, an image version or one of its patches."""

from __future__ import annotations

from dataclasses import dataclass

from image_format.manifest import Manifest

VersionKey = tuple[str, str]
SeedKey = tuple[str, str, str | None]
"""(name, version, from_version): the image when `from_version` is None, else the patch from it."""


@dataclass(frozen=True)
class SeedTarget:
    """What to seed and how to check it: the blob's digest and size and its torrent's digest.

    Not responsible for fetching or seeding (`seeder.reconciler`).
    """

    name: str
    version: str
    patch_from: str | None
    sha256: str
    size: int
    torrent_sha256: str

    @property
    def key(self) -> SeedKey:
        return (self.name, self.version, self.patch_from)

    @property
    def label(self) -> str:
        """`debian@2`, or `debian@2 (patch from 1)`."""
        what = f"{self.name}@{self.version}"
        return what if self.patch_from is None else f"{what} (patch from {self.patch_from})"


def seed_targets(manifest: Manifest) -> list[SeedTarget]:
    """The version's image and each of its patches that has a torrent, image first."""
    targets = []
    if manifest.torrent is not None:
        targets.append(
            SeedTarget(
                manifest.name,
                manifest.version,
                None,
                manifest.sha256,
                manifest.size,
                manifest.torrent.sha256,
            )
        )
    for delta in manifest.deltas:
        if delta.torrent is not None:
            targets.append(
                SeedTarget(
                    manifest.name,
                    manifest.version,
                    delta.from_version,
                    delta.sha256,
                    delta.size,
                    delta.torrent.sha256,
                )
            )
    return targets
