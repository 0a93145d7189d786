"""What the seeder reads from the distributor: the listing, verified manifests, torrent files."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import httpx

from image_format.catalog_schema import ImageList
from image_format.content_paths import images_path, manifest_path, torrent_path
from image_format.envelope import PublicKey
from image_format.errors import ImageFormatError
from image_format.manifest import Manifest
from image_format.signing import check_manifest_identity, verify_signed_manifest


class CatalogUnavailable(Exception):
    """The distributor could not be asked, or answered something we must not use."""


class CatalogClient:
    """Reads the distributor's catalog over HTTP and checks everything it returns.

    Not responsible for deciding what to seed (`seeder.reconciler`). Error contract: every
    method raises `CatalogUnavailable` (network errors, non-2xx, bad JSON, bad signatures, a
    torrent whose sha256 is not the manifest's), never an httpx or pydantic error.
    """

    def __init__(self, base_url: str, keys: Sequence[PublicKey], timeout_seconds: float) -> None:
        self._keys = list(keys)
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout_seconds)

    def close(self) -> None:
        self._http.close()

    def versions(self) -> list[tuple[str, str]]:
        """Every (name, version) the distributor lists."""
        body = self._get(images_path()).content
        try:
            listing = ImageList.model_validate_json(body)
        except ValueError as exc:
            raise CatalogUnavailable(f"bad image listing: {exc}") from exc
        return [(image.name, v.version) for image in listing.images for v in image.versions]

    def manifest(self, name: str, version: str) -> Manifest:
        data = self._get(manifest_path(name, version)).content
        try:
            manifest = verify_signed_manifest(data, self._keys)
            check_manifest_identity(manifest, name, version)
        except ImageFormatError as exc:
            raise CatalogUnavailable(f"manifest of {name}@{version} refused: {exc}") from exc
        return manifest

    def torrent(self, sha256: str) -> bytes:
        data = self._get(torrent_path(sha256)).content
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise CatalogUnavailable(f"torrent {sha256} arrived with sha256 {actual}")
        return data

    def _get(self, path: str) -> httpx.Response:
        try:
            answer = self._http.get(path)
        except httpx.HTTPError as exc:
            raise CatalogUnavailable(f"GET {path}: {exc}") from exc
        if answer.status_code != 200:
            raise CatalogUnavailable(f"GET {path}: HTTP {answer.status_code}")
        return answer
