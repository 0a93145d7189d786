"""Which info-hashes the tracker serves: the torrents named by the catalog's signed manifests.

A manifest's `torrent` carries `info_hash_v1` (SHA-1, 20 bytes) and/or `info_hash_v2` (SHA-256,
32 bytes), and so does each of its `deltas[].torrent`: a patch has a swarm of its own, so that a
release to many hosts does not send every patch from the origin. Trackers see a v2 hash truncated
to its first 20 bytes (BEP 52). Every hash of one torrent leads to ONE swarm (a hybrid torrent's
peers announce either hash); two versions with the same torrent share it. A swarm is keyed by its
primary hash: the v1 hash when there is one, else the truncated v2 hash.

`TorrentIndex` is a fixed snapshot (what tests feed the tracker); `CatalogTorrentIndex` keeps one
in step with the catalog, re-reading it on a miss at most once per `refresh_min_seconds`. Not
responsible for signatures (the catalog holds only what this server signed) nor for peers.
Error contract: `CatalogError` from the catalog passes through; a manifest that cannot be read is
logged and left out, never raised.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from pydantic import ValidationError

from distributor.catalog import Catalog
from distributor.catalog.base import VersionRecord
from image_format.manifest import DeltaRef, TorrentRef

log = logging.getLogger(__name__)
TRACKER_HASH_BYTES = 20
VersionKey = tuple[str, str]
PatchKey = tuple[str, str, str]
"""(name, version, from_version): the patch that turns `from_version` into `version`."""


@dataclass(frozen=True)
class TorrentEntry:
    """One swarm: its primary hash, every 20-byte hash that reaches it, the versions (images)
    and patches it serves."""

    swarm: bytes
    hashes: tuple[bytes, ...]
    versions: tuple[VersionKey, ...]
    patches: tuple[PatchKey, ...] = ()


class KnownTorrents(Protocol):
    """What the tracker asks about info-hashes."""

    def lookup(self, info_hash: bytes) -> TorrentEntry | None: ...

    def entries(self) -> list[TorrentEntry]: ...

    def for_version(self, name: str, version: str) -> TorrentEntry | None: ...

    def for_patch(self, name: str, version: str, from_version: str) -> TorrentEntry | None: ...


def tracker_hashes(ref: TorrentRef) -> list[bytes]:
    """The 20-byte hashes clients announce for `ref`: v1 as is, v2 truncated (BEP 52)."""
    hashes = []
    if ref.info_hash_v1:
        hashes.append(bytes.fromhex(ref.info_hash_v1))
    if ref.info_hash_v2:
        hashes.append(bytes.fromhex(ref.info_hash_v2)[:TRACKER_HASH_BYTES])
    return [h for h in hashes if len(h) == TRACKER_HASH_BYTES]


class TorrentIndex:
    """A fixed set of swarms built from (name, version, torrent) triples and (name, version,
    from_version, torrent) patch quadruples; hybrids merged."""

    def __init__(
        self,
        refs: Iterable[tuple[str, str, TorrentRef]] = (),
        patches: Iterable[tuple[str, str, str, TorrentRef]] = (),
    ) -> None:
        groups: list[tuple[list[bytes], list[VersionKey | PatchKey]]] = []
        v1_hashes: set[bytes] = set()
        labelled: list[tuple[VersionKey | PatchKey, TorrentRef]] = [
            *(((name, version), ref) for name, version, ref in refs),
            *(((name, version, base), ref) for name, version, base, ref in patches),
        ]
        for label, ref in labelled:
            hashes = tracker_hashes(ref)
            if not hashes:
                continue
            if ref.info_hash_v1:
                v1_hashes.add(hashes[0])
            joined = [g for g in groups if set(g[0]) & set(hashes)]
            merged: tuple[list[bytes], list[VersionKey | PatchKey]] = ([], [])
            for group in joined:
                groups.remove(group)
                merged = (merged[0] + group[0], merged[1] + group[1])
            groups.append((merged[0] + hashes, [*merged[1], label]))
        self._by_hash: dict[bytes, TorrentEntry] = {}
        self._by_version: dict[VersionKey, TorrentEntry] = {}
        self._by_patch: dict[PatchKey, TorrentEntry] = {}
        for hashes, labels in groups:
            unique = tuple(dict.fromkeys(hashes))
            primary = next((h for h in unique if h in v1_hashes), unique[0])
            versions = tuple(dict.fromkeys(k for k in labels if len(k) == 2))
            patch_keys = tuple(dict.fromkeys(k for k in labels if len(k) == 3))
            entry = TorrentEntry(primary, unique, versions, patch_keys)
            self._by_hash.update(dict.fromkeys(unique, entry))
            self._by_version.update(dict.fromkeys(entry.versions, entry))
            self._by_patch.update(dict.fromkeys(entry.patches, entry))

    def lookup(self, info_hash: bytes) -> TorrentEntry | None:
        return self._by_hash.get(info_hash)

    def entries(self) -> list[TorrentEntry]:
        return list({entry.swarm: entry for entry in self._by_hash.values()}.values())

    def for_version(self, name: str, version: str) -> TorrentEntry | None:
        return self._by_version.get((name, version))

    def for_patch(self, name: str, version: str, from_version: str) -> TorrentEntry | None:
        return self._by_patch.get((name, version, from_version))


@dataclass(frozen=True)
class RecordTorrents:
    """The torrents a catalog record's signed manifest names: the image's and each patch's."""

    image: TorrentRef | None
    deltas: tuple[DeltaRef, ...] = ()
    """The deltas that have a torrent."""

    def patch_torrents(self) -> list[tuple[str, TorrentRef]]:
        """(from_version, torrent) of each patch."""
        return [(d.from_version, d.torrent) for d in self.deltas if d.torrent is not None]


def torrents_of(record: VersionRecord) -> RecordTorrents:
    """The torrents of a record's manifest; none when the manifest cannot be read."""
    try:
        signed = json.loads(record.envelope)["signed"]
        torrent = signed.get("torrent")
        image = None if torrent is None else TorrentRef.model_validate(torrent)
        deltas = tuple(
            ref
            for ref in (DeltaRef.model_validate(d) for d in signed.get("deltas") or ())
            if ref.torrent is not None
        )
    except (ValueError, KeyError, TypeError, AttributeError, ValidationError) as exc:
        log.warning("tracker: no torrent read from %s@%s: %s", record.name, record.version, exc)
        return RecordTorrents(None)
    return RecordTorrents(image, deltas)


def torrent_ref_of(record: VersionRecord) -> TorrentRef | None:
    """The `torrent` of a catalog record's signed manifest, or None (absent or unreadable)."""
    return torrents_of(record).image


class CatalogTorrentIndex:
    """`KnownTorrents` over the catalog, re-read on a miss when the catalog changed since the last
    read (`Catalog.generation`, one cheap query) or `refresh_min_seconds` have passed: a version
    published a moment ago is found by its first announce, and a flood of unknown hashes costs
    no catalog reads. A hit also looks whether the catalog changed, at most once per
    `refresh_min_seconds`: a retired version stops being answered within that. Thread-safe."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        refresh_min_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._catalog = catalog
        self._refresh_min_seconds = refresh_min_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._refs: dict[VersionKey, tuple[bytes, RecordTorrents]] = {}
        self._index = TorrentIndex()
        self._refreshed_at: float | None = None
        self._generation: tuple[int, ...] | None = None
        self._followed_at: float | None = None

    def _follow_catalog(self) -> None:
        """Re-read the catalog if it changed (a version added or retired), looking at most once
        per `refresh_min_seconds`."""
        now = self._clock()
        if self._followed_at is not None and now - self._followed_at < self._refresh_min_seconds:
            return
        self._followed_at = now
        if self._catalog.generation() != self._generation:
            self.refresh()  # re-checks under the lock: concurrent callers read the catalog once

    def refresh(self, *, force: bool = False) -> None:
        """Re-read the catalog unless that was done less than `refresh_min_seconds` ago and it
        has not changed since."""
        with self._lock:
            now = self._clock()
            last = self._refreshed_at
            generation = self._catalog.generation()
            recent = last is not None and now - last < self._refresh_min_seconds
            if not force and recent and generation == self._generation:
                return
            self._refreshed_at, self._generation = now, generation
            refs: dict[VersionKey, tuple[bytes, RecordTorrents]] = {}
            for records in self._catalog.list_images().values():
                for record in records:
                    key = (record.name, record.version)
                    known = self._refs.get(key)
                    if known is not None and known[0] == record.envelope:
                        refs[key] = known
                    else:
                        refs[key] = (record.envelope, torrents_of(record))
            self._refs = refs
            self._index = TorrentIndex(
                [(name, version, t.image) for (name, version), (_, t) in refs.items() if t.image],
                [
                    (name, version, base, ref)
                    for (name, version), (_, t) in refs.items()
                    for base, ref in t.patch_torrents()
                ],
            )

    def lookup(self, info_hash: bytes) -> TorrentEntry | None:
        self._follow_catalog()
        entry = self._index.lookup(info_hash)
        if entry is None:
            self.refresh()
            entry = self._index.lookup(info_hash)
        return entry

    def entries(self) -> list[TorrentEntry]:
        self.refresh()
        return self._index.entries()

    def for_version(self, name: str, version: str) -> TorrentEntry | None:
        self._follow_catalog()
        entry = self._index.for_version(name, version)
        if entry is None:
            self.refresh()
            entry = self._index.for_version(name, version)
        return entry

    def for_patch(self, name: str, version: str, from_version: str) -> TorrentEntry | None:
        self._follow_catalog()
        entry = self._index.for_patch(name, version, from_version)
        if entry is None:
            self.refresh()
            entry = self._index.for_patch(name, version, from_version)
        return entry
