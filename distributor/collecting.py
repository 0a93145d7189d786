"""Collecting the stored content no version needs any more (`distributor gc`).

Kept: what a version needs while it is listed, or retired less than `grace` ago (hosts may be
mid-download; seeders drop it at their next poll): its blob, its torrent, its chunk index and the
packs that index names (a format-1 index: the packs holding its chunks), its patches and their
torrents. Removed: every other blob, torrent and pack whose file is older than `grace` (a
retired version's content, a patch or pack only such versions named, a blob whose publish lost
a race). Before packs go, the chunk-location rows naming them move to a kept copy of the chunk
or go too, so no later publish reuses a removed pack. Left alone: staging files (each store
sweeps its own), the per-chunk files of an earlier release (`DATA/chunks/`), keys, the catalog.

The chunk index of every version the catalog holds stays, retired ones too (small; a host that
still holds a retired image uses its index to find which chunks of a newer version it has).

It runs under the storage lock held exclusively (`distributor.storage.storage_lock`): publishes
wait for it, and it waits for running publishes. It stops before anything is removed when it
cannot be sure what is needed: a manifest with fields it does not know (at any depth: a newer
schema), a catalog that holds no version while the stores hold content, or a needed version
whose image blob is not in the store (a catalog other than the server's, say a different
`DISTRIBUTOR_CATALOG_URL`, would otherwise make it remove everything). A chunk index it cannot
read keeps every pack this run (and says so).

Not responsible for retiring versions (`distributor.retiring`). Error contract:
`CollectionRefused` (carrying the version, if one is to blame) for the cases above,
`StorageBusy`, `StorageError`, `CatalogError`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from distributor.catalog.base import Catalog, VersionRecord
from distributor.chunks.pack_store import PackStore
from distributor.errors import DistributorError, StorageError
from distributor.storage.blob_store import LocalBlobStore
from distributor.storage.storage_lock import StorageLock
from distributor.torrents.store import TorrentStore
from image_format.chunks import ChunkIndex, ChunkLocation
from image_format.chunks.errors import ChunkIndexError
from image_format.manifest import (
    MANIFEST_SCHEMA_VERSION,
    ChunkIndexRef,
    DeltaRef,
    Manifest,
    TorrentRef,
)
from image_format.timestamps import parse_utc_timestamp

LOCK_WAIT_SECONDS = 60.0
NESTED_MODELS: dict[type[BaseModel], dict[str, type[BaseModel]]] = {
    Manifest: {"torrent": TorrentRef, "chunk_index": ChunkIndexRef, "deltas": DeltaRef},
    DeltaRef: {"torrent": TorrentRef},
}
"""The manifest's object-valued fields and the model each one holds (a list: each item)."""


class CollectionRefused(DistributorError):
    """The collection cannot be sure what the catalog's versions need; nothing was removed."""

    code = "collection_refused"

    def __init__(self, reason: str, name: str | None = None, version: str | None = None) -> None:
        about = "" if name is None else f" ({name}@{version})"
        super().__init__(f"gc: {reason}{about}; removed nothing")
        self.name = name
        self.version = version


@dataclass(frozen=True)
class ContentStores:
    """The stores a collection reads and removes from, and the lock it holds."""

    blobs: LocalBlobStore
    torrents: TorrentStore
    packs: PackStore
    lock: StorageLock


@dataclass(frozen=True)
class Removal:
    kind: str
    """"blob", "torrent" or "pack"."""
    digest: str
    size: int


@dataclass
class _Needed:
    blobs: set[str] = field(default_factory=set)
    torrents: set[str] = field(default_factory=set)
    packs: set[str] = field(default_factory=set)
    chunk_copies: dict[str, ChunkLocation] = field(default_factory=dict)
    unread_indexes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CollectionReport:
    """What a collection kept and removed (or, with `dry_run`, would remove)."""

    dry_run: bool
    needed_versions: int
    expired_versions: int
    removed: tuple[Removal, ...]
    location_rows_dropped: int
    packs_kept_unchecked: tuple[str, ...]
    """Versions whose chunk index could not be read: every pack was kept this run."""

    @property
    def removed_bytes(self) -> int:
        return sum(removal.size for removal in self.removed)

    def counts(self) -> dict[str, int]:
        """Removed files per store: {"blobs": n, "torrents": n, "packs": n}."""
        counts = {f"{kind}s": 0 for kind in ("blob", "torrent", "pack")}
        for removal in self.removed:
            counts[f"{removal.kind}s"] += 1
        return counts

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "needed_versions": self.needed_versions,
            "expired_versions": self.expired_versions,
            "removed": self.counts(),
            "removed_bytes": self.removed_bytes,
            "removed_files": [asdict(removal) for removal in self.removed],
            "location_rows_dropped": None if self.dry_run else self.location_rows_dropped,
            "packs_kept_unchecked": list(self.packs_kept_unchecked),
        }


def collect(
    stores: ContentStores,
    catalog: Catalog,
    *,
    grace_seconds: float,
    dry_run: bool = False,
    lock_wait_seconds: float = LOCK_WAIT_SECONDS,
) -> CollectionReport:
    """Remove (or with `dry_run` only list) what no needed version uses; see the module."""
    with stores.lock.exclusive(lock_wait_seconds):
        now = time.time()
        records = catalog.every_version()
        needed_records = [r for r in records if _needed(r, now, grace_seconds)]
        needed = _Needed()
        for record in needed_records:
            _add_needs(record, stores, needed)
        _check_catalog_matches(records, needed_records, stores)
        needed.blobs.update(_chunk_index_blobs(records))
        removals = [
            *_unneeded("blob", stores.blobs.root, needed.blobs, now - grace_seconds),
            *_unneeded("torrent", stores.torrents.root, needed.torrents, now - grace_seconds),
        ]
        if not needed.unread_indexes:
            removals += _unneeded("pack", stores.packs.root, needed.packs, now - grace_seconds)
        dropped = 0
        if not dry_run:
            doomed_packs = {r.digest for r in removals if r.kind == "pack"}
            if doomed_packs:
                dropped = stores.packs.forget_packs(doomed_packs, needed.chunk_copies)
            for removal in sorted(
                removals, key=lambda r: ("pack", "torrent", "blob").index(r.kind)
            ):
                _remove(_path_of(removal, stores))
        return CollectionReport(
            dry_run=dry_run,
            needed_versions=len(needed_records),
            expired_versions=len(records) - len(needed_records),
            removed=tuple(removals),
            location_rows_dropped=dropped,
            packs_kept_unchecked=tuple(needed.unread_indexes),
        )


def _needed(record: VersionRecord, now: float, grace_seconds: float) -> bool:
    if record.retired is None:
        return True
    try:
        retired = parse_utc_timestamp(record.retired).timestamp()
    except ValueError:
        return True  # an unreadable date never makes content collectable
    return now - retired < grace_seconds


def _manifest(record: VersionRecord) -> Manifest:
    """The record's manifest, refused when any object in it has a field this release does not
    know (a reference to content it would not count as needed)."""
    try:
        signed = json.loads(record.envelope)["signed"]
        unknown = _unknown_fields(signed, Manifest)
        if unknown or signed.get("schema_version", 1) > MANIFEST_SCHEMA_VERSION:
            raise CollectionRefused(
                f"its manifest has fields this release does not know: {unknown}",
                record.name,
                record.version,
            )
        return Manifest.model_validate(signed)
    except CollectionRefused:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise CollectionRefused(f"unreadable manifest: {exc}", record.name, record.version) from exc


def _unknown_fields(value: object, model: type[BaseModel], where: str = "") -> list[str]:
    """Dotted paths of the keys in `value` (a JSON object meant as `model`) and in its nested
    manifest objects that `model` does not declare."""
    if not isinstance(value, dict):
        return []
    found = [f"{where}{key}" for key in value if key not in model.model_fields]
    for key, nested in NESTED_MODELS.get(model, {}).items():
        items = value.get(key)
        for index, item in enumerate(items if isinstance(items, list) else [items]):
            label = f"{where}{key}[{index}]." if isinstance(items, list) else f"{where}{key}."
            found += _unknown_fields(item, nested, label)
    return found


def _check_catalog_matches(
    records: list[VersionRecord], needed_records: list[VersionRecord], stores: ContentStores
) -> None:
    """Refuse a catalog that does not describe these stores (see the module)."""
    if not records:
        for root in (stores.blobs.root, stores.torrents.root, stores.packs.root):
            if any(not p.name.startswith(".") for p in root.glob("sha256/*/*")):
                raise CollectionRefused(
                    f"the catalog holds no version but {root} holds content: is this the "
                    "server's catalog (DISTRIBUTOR_CATALOG_URL)?"
                )
    for record in needed_records:
        if not stores.blobs.path(record.sha256).is_file():
            raise CollectionRefused(
                "the catalog lists it but its image blob is not in the store: is this the "
                "server's catalog (DISTRIBUTOR_CATALOG_URL), or is the store damaged?",
                record.name,
                record.version,
            )


def _chunk_index_blobs(records: list[VersionRecord]) -> set[str]:
    """The chunk index of every version the catalog holds, retired ones too (see the module);
    a manifest that cannot be read names none."""
    found: set[str] = set()
    for record in records:
        try:
            reference = json.loads(record.envelope)["signed"].get("chunk_index") or {}
            digest = reference.get("sha256")
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
        if isinstance(digest, str):
            found.add(digest)
    return found


def _add_needs(record: VersionRecord, stores: ContentStores, needed: _Needed) -> None:
    label = f"{record.name}@{record.version}"
    manifest = _manifest(record)
    needed.blobs.add(manifest.sha256)
    if manifest.torrent is not None:
        needed.torrents.add(manifest.torrent.sha256)
    for delta in manifest.deltas:
        needed.blobs.add(delta.sha256)
        if delta.torrent is not None:
            needed.torrents.add(delta.torrent.sha256)
    if manifest.chunk_index is not None:
        needed.blobs.add(manifest.chunk_index.sha256)
        try:
            data = stores.blobs.path(manifest.chunk_index.sha256).read_bytes()
            index = ChunkIndex.from_bytes(data)
        except (OSError, ChunkIndexError):
            needed.unread_indexes.append(label)
            return
        if index.packed:
            for span, location in index.located_spans():
                needed.packs.add(location.pack)
                needed.chunk_copies[span.chunk_id] = location
        else:
            ids = [span.chunk_id for span in index.spans if not span.is_zero]
            needed.packs.update(loc.pack for loc in stores.packs.locate_many(ids).values())


def _unneeded(kind: str, root: Path, needed: set[str], older_than: float) -> Iterator[Removal]:
    """Files `sha256/ab/<digest>` below `root` not in `needed` and last changed before
    `older_than` (staging files, whose names start with a dot, are never candidates)."""
    for path in sorted(root.glob("sha256/*/*")):
        digest = path.name
        if digest.startswith(".") or len(digest) != 64 or digest in needed:
            continue
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise StorageError(str(path), f"cannot inspect: {exc}") from exc
        if stat.st_mtime < older_than:
            yield Removal(kind, digest, stat.st_size)


def _path_of(removal: Removal, stores: ContentStores) -> Path:
    if removal.kind == "blob":
        return stores.blobs.path(removal.digest)
    if removal.kind == "torrent":
        return stores.torrents.path(removal.digest)
    return stores.packs.path(removal.digest)


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise StorageError(str(path), f"cannot remove: {exc}") from exc
