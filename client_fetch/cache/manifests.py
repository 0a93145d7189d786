"""Records of signed manifest envelopes by `NAME@VERSION`, pointing at images by digest."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from client_fetch.cache.fsutil import atomic_write_bytes, list_dir, remove_if_exists
from client_fetch.cache.layout import MANIFEST_SUFFIX, MANIFESTS, TMP_PREFIX, CacheLayout
from client_fetch.cache.oserrors import cache_errors
from image_format.digest import validate_digest
from image_format.errors import ImageFormatError, ManifestMalformed, ManifestMismatch


@dataclass(frozen=True)
class ManifestRecord:
    """One recorded envelope; `digest`/`size` are None when the file could not be parsed."""

    name: str
    version: str
    path: Path
    digest: str | None
    size: int | None

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


def parse_envelope(data: bytes) -> tuple[str, str, str, int]:
    """(name, version, sha256, size) from a manifest envelope's `signed` part, with stdlib json.

    Does not check signatures (the fetcher did, before recording). Raises `ManifestMalformed`.
    """
    try:
        signed = json.loads(data)["signed"]
        name, version, size = signed["name"], signed["version"], signed["size"]
        digest = validate_digest(signed["sha256"])
    except (ValueError, KeyError, TypeError, ImageFormatError) as exc:
        raise ManifestMalformed(f"not a manifest envelope: {exc}") from exc
    if not isinstance(name, str) or not isinstance(version, str):
        raise ManifestMalformed("manifest name and version must be strings")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ManifestMalformed(f"manifest size must be a non-negative integer, not {size!r}")
    return name, version, digest, size


class ManifestRecords:
    """Files `manifests/<name>/<version>.json`, written atomically.

    For: answering `NAME@VERSION` from disk without the network, and listing which refs point at
    an image. Not responsible for: signature checks (the fetcher verifies before `record` and
    again, if it wants, on the returned bytes) or for whether the image is present.

    Error contract: `record` raises `ManifestMalformed` for bytes that are not an envelope and
    `ManifestMismatch` when it names another `NAME@VERSION`; invalid names raise `InvalidName`;
    file-system failures raise `CacheError`. Unparsable records are returned with digest None.
    """

    def __init__(self, layout: CacheLayout) -> None:
        self._layout = layout

    def record(self, name: str, version: str, envelope: bytes) -> str:
        """Store `envelope` for `name@version`; return the digest it names."""
        path = self._layout.manifest(name, version)
        signed_name, signed_version, digest, _ = parse_envelope(envelope)
        if (signed_name, signed_version) != (name, version):
            raise ManifestMismatch(
                f"manifest for {signed_name}@{signed_version} recorded as {name}@{version}"
            )
        with cache_errors(self._layout.root, f"cannot record manifest of {name}@{version}"):
            atomic_write_bytes(path, envelope)
        return digest

    def read(self, name: str, version: str) -> tuple[str, int, bytes] | None:
        """(digest, size, envelope bytes), or None when absent or unparsable."""
        path = self._layout.manifest(name, version)
        with cache_errors(self._layout.root, f"cannot read manifest of {name}@{version}"):
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                return None
        try:
            _, _, digest, size = parse_envelope(data)
        except ManifestMalformed:
            return None
        return digest, size, data

    def all(self) -> Iterator[ManifestRecord]:
        """Every record on disk (temporary files excluded)."""
        top = self._layout.dir(MANIFESTS)
        with cache_errors(self._layout.root, "cannot list manifests"):
            for name in sorted(list_dir(top)):
                for filename in sorted(list_dir(top / name)):
                    if filename.startswith(TMP_PREFIX) or not filename.endswith(MANIFEST_SUFFIX):
                        continue
                    yield _load(name, filename[: -len(MANIFEST_SUFFIX)], top / name / filename)

    def refs_by_digest(self) -> dict[str, list[ManifestRecord]]:
        out: dict[str, list[ManifestRecord]] = {}
        for record in self.all():
            if record.digest is not None:
                out.setdefault(record.digest, []).append(record)
        return out

    def remove(self, record: ManifestRecord) -> bool:
        with cache_errors(self._layout.root, f"cannot remove manifest of {record.ref}"):
            return remove_if_exists(record.path)


def _load(name: str, version: str, path: Path) -> ManifestRecord:
    try:
        _, _, digest, size = parse_envelope(path.read_bytes())
    except (ManifestMalformed, FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return ManifestRecord(name, version, path, None, None)
    return ManifestRecord(name, version, path, digest, size)
