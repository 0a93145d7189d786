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

import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from distributor.catalog.base import Catalog, VersionRecord
from distributor.collection_needs import (
    ContentStores,
    Needs,
    add_needs,
    check_catalog_matches,
    chunk_index_blobs,
)
from distributor.errors import StorageError
from image_format.timestamps import parse_utc_timestamp

LOCK_WAIT_SECONDS = 60.0


@dataclass(frozen=True)
class Removal:
    kind: str
    """"blob", "torrent" or "pack"."""
    digest: str
    size: int


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
        needed = Needs()
        for record in needed_records:
            add_needs(record, stores, needed)
        check_catalog_matches(records, needed_records, stores)
        needed.blobs.update(chunk_index_blobs(records))
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
