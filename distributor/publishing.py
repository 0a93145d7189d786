"""The publishing pipeline: content in, a signed manifest recorded in the catalog out.

Steps, in order: validate NAME and VERSION, stage the content once (stream, hash, temp file),
compare with what the catalog already holds (same content and kind: idempotent; other content:
`VersionConflict`; the same content under another kind: `KindConflict`), move the blob into the
store, let each `PublishStep` add manifest fields (torrent, chunk index, deltas later), sign,
record. The catalog's unique (name, version) decides
races between concurrent publishers.

Not responsible for authentication (the HTTP layer) nor for serving content. Error contract:
`InvalidName` (bad name/version, raised before any content is read), `VersionConflict` (and
its `KindConflict`),
`ContentDigestMismatch` (the caller announced another sha256), `UploadTooLarge`, `StorageError`,
`CatalogError`. On any error the staged content is removed; a blob whose version lost a publish
race stays in the store unreferenced (`distributor gc` removes it). From the blob's commit until
the version is recorded, a publish holds the data directory's storage lock shared
(`distributor.storage.storage_lock`), so no collection runs meanwhile. Each publish also removes
the blob store's staging files whose writer died (`LocalBlobStore.sweep_staging`, never a live
one).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from distributor.catalog.base import Catalog, VersionRecord
from distributor.errors import (
    ContentDigestMismatch,
    StorageError,
    VersionConflict,
    VersionRetired,
)
from distributor.storage.blob_store import LocalBlobStore, StagedBlob
from distributor.storage.storage_lock import StorageLock
from image_format.manifest import ContentKind, Manifest
from image_format.names import validate_name, validate_version
from image_format.signing import SigningKey, sign_manifest
from image_format.timestamps import utc_timestamp


class KindConflict(VersionConflict):
    """NAME@VERSION is already published with this content but as another kind (image/data);
    a version's kind is part of its signed manifest and never changes."""

    code = "kind_conflict"

    def __init__(
        self, name: str, version: str, sha256: str, existing_kind: str, new_kind: str
    ) -> None:
        super().__init__(name, version, sha256, sha256)
        self.existing_kind = existing_kind
        self.new_kind = new_kind
        self.args = (
            f"{name}@{version} is already published as kind {existing_kind!r} with the same "
            f"content; refusing to publish it as kind {new_kind!r} (publish a new version "
            "instead)",
        )


@dataclass(frozen=True)
class PublishContext:
    """What a pipeline step knows about the version being published."""

    name: str
    version: str
    kind: ContentKind
    sha256: str
    size: int
    blob_path: Path


class PublishStep(Protocol):
    """A later stage of publishing (torrent, chunk index, deltas): returns manifest fields."""

    def __call__(self, context: PublishContext) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class PublishResult:
    """The recorded version; `created` is False when the same content was already published."""

    record: VersionRecord
    created: bool

    @property
    def manifest_bytes(self) -> bytes:
        return self.record.envelope


class Publisher:
    """Turns content into a published, signed version."""

    def __init__(
        self,
        blob_store: LocalBlobStore,
        catalog: Catalog,
        signing_key: SigningKey,
        steps: Sequence[PublishStep] = (),
        *,
        lock: StorageLock,
    ) -> None:
        self._blobs = blob_store
        self._catalog = catalog
        self._key = signing_key
        self._steps = tuple(steps)
        self._lock = lock

    def publish_file(
        self, path: Path, name: str, version: str, kind: ContentKind = "image"
    ) -> PublishResult:
        validate_name(name)
        validate_version(version)
        try:
            handle = path.open("rb")
        except OSError as exc:
            raise StorageError(str(path), f"cannot read the file to publish: {exc}") from exc
        with handle:
            return self.publish_stream(handle, name, version, kind)

    def publish_stream(
        self,
        source: Iterable[bytes] | BinaryIO,
        name: str,
        version: str,
        kind: ContentKind = "image",
        *,
        expected_sha256: str | None = None,
        max_bytes: int | None = None,
    ) -> PublishResult:
        """Publish byte blocks or a binary file object, read once."""
        validate_name(name)
        validate_version(version)
        staged = self._blobs.stage(source, max_bytes=max_bytes)
        return self.publish_staged(staged, name, version, kind, expected_sha256=expected_sha256)

    def publish_staged(
        self,
        staged: StagedBlob,
        name: str,
        version: str,
        kind: ContentKind = "image",
        *,
        expected_sha256: str | None = None,
    ) -> PublishResult:
        """Publish content already staged; always commits or discards `staged`."""
        self._blobs.sweep_staging()
        try:
            validate_name(name)
            validate_version(version)
            if expected_sha256 is not None and expected_sha256 != staged.digest:
                raise ContentDigestMismatch(expected_sha256, staged.digest)
            existing = self._catalog.get_version(name, version, retired_too=True)
        except BaseException:
            staged.discard()
            raise
        if existing is not None:
            staged.discard()
            return self._repeat(existing, staged.digest, kind)
        with contextlib.ExitStack() as held:
            try:  # no storage collection while content is stored and named
                held.enter_context(self._lock.shared())
                blob_path = staged.commit()
            except BaseException:
                staged.discard()
                raise
            context = PublishContext(name, version, kind, staged.digest, staged.size, blob_path)
            record = self._record(context)
            outcome = self._catalog.add_version(record)
        if outcome.created:
            return PublishResult(outcome.record, True)
        return self._repeat(outcome.record, staged.digest, kind)

    def _repeat(self, existing: VersionRecord, sha256: str, kind: ContentKind) -> PublishResult:
        """The answer to publishing a version the catalog already holds: the same content and
        kind is a no-op; raises `VersionRetired` for a retired version, `VersionConflict` for
        other content, `KindConflict` for the same content under another kind."""
        if existing.retired is not None:
            raise VersionRetired(existing.name, existing.version, existing.retired)
        if existing.sha256 != sha256:
            raise VersionConflict(existing.name, existing.version, existing.sha256, sha256)
        if existing.kind != kind:
            raise KindConflict(existing.name, existing.version, sha256, existing.kind, kind)
        return PublishResult(existing, False)

    def _record(self, context: PublishContext) -> VersionRecord:
        fields: dict[str, Any] = {}
        for step in self._steps:
            fields.update(step(context))
        manifest = Manifest(
            kind=context.kind,
            name=context.name,
            version=context.version,
            size=context.size,
            sha256=context.sha256,
            created=utc_timestamp(),
            **fields,
        )
        return VersionRecord(
            name=manifest.name,
            version=manifest.version,
            kind=manifest.kind,
            sha256=manifest.sha256,
            size=manifest.size,
            created=manifest.created,
            envelope=sign_manifest(manifest, self._key),
        )
