"""What the catalog's versions need from the stores, for a storage collection (`collecting`).

Reads each needed version's manifest (refusing one with fields this release does not know, at
any depth: it would not count what they name), and its chunk index for the packs it names.
Checks the catalog describes these stores at all. Not responsible for deciding which versions
are needed (the grace) nor for removing anything (`distributor.collecting`). Error contract:
`CollectionRefused`; a chunk index that cannot be read is noted in `Needs.unread_indexes`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from pydantic import BaseModel

from distributor.catalog.base import VersionRecord
from distributor.chunks.pack_store import PackStore
from distributor.errors import DistributorError
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


@dataclass
class Needs:
    """What needed versions use: digests per store, each chunk's copy in a needed pack, and the
    versions whose chunk index could not be read (then every pack is kept)."""

    blobs: set[str] = field(default_factory=set)
    torrents: set[str] = field(default_factory=set)
    packs: set[str] = field(default_factory=set)
    chunk_copies: dict[str, ChunkLocation] = field(default_factory=dict)
    unread_indexes: list[str] = field(default_factory=list)


def manifest_of(record: VersionRecord) -> Manifest:
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


def check_catalog_matches(
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


def chunk_index_blobs(records: list[VersionRecord]) -> set[str]:
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


def add_needs(record: VersionRecord, stores: ContentStores, needed: Needs) -> None:
    label = f"{record.name}@{record.version}"
    manifest = manifest_of(record)
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
