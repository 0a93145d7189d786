"""The catalog interface and its records.

`Catalog` is what any backing database serves (SQLite now; PostgreSQL later behind the same
interface). Not responsible for content (the blob store) nor for signing (publishing).

Error contract for implementations: failures to reach or read the database raise `CatalogError`;
lookups of unknown names or versions return None (callers decide whether that is a 404).
Publishing races are decided by the database (unique name+version), never by a read-then-write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from image_format.manifest import ContentKind


@dataclass(frozen=True)
class VersionRecord:
    """One published version: what it is and the signed envelope bytes exactly as served."""

    name: str
    version: str
    kind: ContentKind
    sha256: str
    size: int
    created: str
    envelope: bytes
    retired: str | None = None
    """When the version was retired (no longer served nor listed), or None while it is listed."""


@dataclass(frozen=True)
class AddOutcome:
    """Result of `add_version`: the stored record and whether this call created it.

    When `created` is False, `record` is the version that was already there, which may hold
    other content than the one offered (the caller decides whether that is a conflict).
    """

    record: VersionRecord
    created: bool


class Catalog(Protocol):
    """Published versions by image name."""

    def add_version(self, record: VersionRecord) -> AddOutcome: ...

    def get_version(
        self, name: str, version: str, *, retired_too: bool = False
    ) -> VersionRecord | None:
        """The listed version (with `retired_too`, also a retired one)."""
        ...

    def retire_version(self, name: str, version: str, when: str) -> VersionRecord | None:
        """Stop listing and serving NAME@VERSION (kept as a tombstone: the pair is never
        published again); the record as it is now, or None when the catalog never had it.
        Retiring a retired version changes nothing."""
        ...

    def latest(self, name: str) -> VersionRecord | None:
        """The most recently published listed version of `name` (by publication order)."""
        ...

    def list_versions(self, name: str) -> list[VersionRecord]:
        """Versions of `name`, oldest first; empty when the image is unknown."""
        ...

    def list_images(self) -> dict[str, list[VersionRecord]]:
        """Every image name with its versions, oldest first, names sorted."""
        ...

    def every_version(self) -> list[VersionRecord]:
        """Every version the catalog holds, retired ones too (names sorted, oldest first):
        what a storage collection must not take from."""
        ...

    def check(self) -> None:
        """Raise `CatalogError` unless the catalog can answer queries now."""
        ...

    def generation(self) -> tuple[int, ...]:
        """A value that changes whenever a version is added or retired, by any process: cheap,
        for readers that cache what they read (the tracker's index)."""
        ...

    def close(self) -> None: ...
