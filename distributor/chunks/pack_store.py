"""Pack files of compressed chunks under `DATA/packs/`, and where each stored chunk lives.

Layout: `sha256/ab/<digest>` (`image_format.chunks.packs.pack_relpath`), each pack the
concatenated zstd frames of some chunks, named by the sha256 of its bytes, never changed. A
small SQLite table beside them (`locations.sqlite`: chunk id → pack, offset, length) is how a
publish knows a chunk is stored already (it is then not stored again) and how the per-chunk
route finds a chunk's frame. A row is written only after its pack is durable and in place (its
bytes and its directory entry fsynced), so every row points at a complete pack, power loss
included; a pack whose rows were never written (a crash in between) is an orphan, harmless. Two
publishes storing the same new chunk at once both keep their copy; the first row wins, and each
index names the copy it wrote (both are valid). A pack being written is a temp file `.pack-*` in
the root, `flock`ed by its writer until sealed or discarded; `sweep_staging` removes those whose
writer died (`distributor.storage.staging`).

Not responsible for chunking, compressing or choosing what to store (the publish step) nor for
HTTP. Error contract: `StorageError` for any file system or SQLite failure; `path` raises
`InvalidDigest` for a malformed digest and never checks existence.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from pathlib import Path

from distributor.errors import StorageError
from distributor.storage.staging import (
    create_locked_temp,
    make_dirs_durably,
    replace_durably,
    sweep_staging,
)
from image_format.chunks import ChunkLocation
from image_format.chunks.packs import MAX_PACK_BYTES, pack_relpath

_SCHEMA = """
CREATE TABLE IF NOT EXISTS chunk_locations (
    chunk_id TEXT PRIMARY KEY,
    pack TEXT NOT NULL,
    offset INTEGER NOT NULL,
    length INTEGER NOT NULL
) WITHOUT ROWID
"""


class PackStore:
    """Content-addressed packs below `root` and the locations of the chunks they hold."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._db_path = root / "locations.sqlite"

    def path(self, digest: str) -> Path:
        return self.root / pack_relpath(digest)

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self._db_path, timeout=30.0)
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(str(self._db_path), f"cannot open: {exc}") from exc
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)
            yield db
            db.commit()
        except sqlite3.Error as exc:
            raise StorageError(str(self._db_path), f"chunk locations: {exc}") from exc
        finally:
            db.close()

    def locate(self, chunk_id: str) -> ChunkLocation | None:
        """Where `chunk_id`'s frame is stored, or None."""
        return self.locate_many([chunk_id]).get(chunk_id)

    @contextlib.contextmanager
    def locator(self) -> Iterator[Callable[[str], ChunkLocation | None]]:
        """`locate` on one open connection, for a publish asking about every chunk (one thread)."""
        with self._db() as db:

            def locate(chunk_id: str) -> ChunkLocation | None:
                try:
                    row = db.execute(
                        "SELECT pack, offset, length FROM chunk_locations WHERE chunk_id = ?",
                        (chunk_id,),
                    ).fetchone()
                except sqlite3.Error as exc:
                    raise StorageError(str(self._db_path), f"chunk locations: {exc}") from exc
                return None if row is None else ChunkLocation(*row)

            yield locate

    def locate_many(self, chunk_ids: Iterable[str]) -> dict[str, ChunkLocation]:
        """The stored ones among `chunk_ids`, with their locations."""
        wanted = list(dict.fromkeys(chunk_ids))
        found: dict[str, ChunkLocation] = {}
        with self._db() as db:
            for start in range(0, len(wanted), 500):
                batch = wanted[start : start + 500]
                marks = ",".join("?" * len(batch))
                rows = db.execute(
                    "SELECT chunk_id, pack, offset, length FROM chunk_locations"
                    f" WHERE chunk_id IN ({marks})",
                    batch,
                )
                for chunk_id, pack, offset, length in rows:
                    found[chunk_id] = ChunkLocation(pack, offset, length)
        return found

    def writer(self) -> PackWriter:
        """A new pack, written to a temp file until `seal`."""
        return PackWriter(self)

    def sweep_staging(self) -> list[Path]:
        """Remove unsealed packs whose writer died; never one a live writer holds. Never
        raises."""
        return sweep_staging(self.root.glob(".pack-*"))

    def forget_packs(self, packs: Collection[str], relocate: Mapping[str, ChunkLocation]) -> int:
        """Before `packs` are removed (a storage collection): each location row naming one of
        them points instead at the chunk's copy in `relocate` (a kept pack's, if that pack is on
        disk), or goes, so no publish reuses and no request finds a chunk there. One
        transaction; returns the rows that went."""
        doomed_set = set(packs)
        doomed = sorted(doomed_set)
        dropped = 0
        present: dict[str, bool] = {}

        def movable(location: ChunkLocation | None) -> bool:
            if location is None or location.pack in doomed_set:
                return False
            if location.pack not in present:
                present[location.pack] = self.path(location.pack).is_file()
            return present[location.pack]

        with self._db() as db:
            for start in range(0, len(doomed), 500):
                batch = doomed[start : start + 500]
                marks = ",".join("?" * len(batch))
                rows = db.execute(
                    f"SELECT chunk_id FROM chunk_locations WHERE pack IN ({marks})", batch
                ).fetchall()
                for (chunk_id,) in rows:
                    moved = relocate.get(chunk_id)
                    if moved is not None and movable(moved):
                        db.execute(
                            "UPDATE chunk_locations SET pack = ?, offset = ?, length = ?"
                            " WHERE chunk_id = ?",
                            (moved.pack, moved.offset, moved.length, chunk_id),
                        )
                    else:
                        db.execute("DELETE FROM chunk_locations WHERE chunk_id = ?", (chunk_id,))
                        dropped += 1
        return dropped

    def _record(self, entries: list[tuple[str, ChunkLocation]]) -> None:
        with self._db() as db:
            db.executemany(
                "INSERT OR IGNORE INTO chunk_locations VALUES (?, ?, ?, ?)",
                [(cid, loc.pack, loc.offset, loc.length) for cid, loc in entries],
            )


class PackWriter:
    """Appends chunk frames to one pack; `seal` makes it durable, names it and records it."""

    def __init__(self, store: PackStore) -> None:
        self._store = store
        self._hash = hashlib.sha256()
        self._members: list[tuple[str, int, int]] = []
        self.size = 0
        try:
            fd, self._temp = create_locked_temp(store.root, prefix=".pack-")
        except OSError as exc:
            raise StorageError(str(store.root), f"cannot start a pack: {exc}") from exc
        self._handle = os.fdopen(fd, "wb")  # holds the lock until closed: after the rename

    def __len__(self) -> int:
        return len(self._members)

    def add(self, chunk_id: str, frame: bytes) -> None:
        if self.size + len(frame) > MAX_PACK_BYTES:
            raise StorageError(str(self._temp), "a pack cannot grow past 4 GiB")
        try:
            self._handle.write(frame)
        except OSError as exc:
            self.discard()
            raise StorageError(str(self._temp), f"cannot write a pack: {exc}") from exc
        self._hash.update(frame)
        self._members.append((chunk_id, self.size, len(frame)))
        self.size += len(frame)

    def seal(self) -> list[tuple[str, ChunkLocation]]:
        """Fsync, rename to `sha256/ab/<digest>` (an identical pack already there is kept),
        fsync its directory, and only then record the locations. Returns them; an empty pack is
        discarded and returns []."""
        if not self._members:
            self.discard()
            return []
        digest = self._hash.hexdigest()
        target = self._store.path(digest)
        try:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            os.chmod(self._temp, 0o644)
            make_dirs_durably(target.parent)
            replace_durably(self._temp, target)
            self._handle.close()
        except OSError as exc:
            self.discard()
            raise StorageError(str(target), f"cannot store a pack: {exc}") from exc
        entries = [
            (chunk_id, ChunkLocation(digest, offset, length))
            for chunk_id, offset, length in self._members
        ]
        self._store._record(entries)
        return entries

    def discard(self) -> None:
        """Drop the unsealed pack (nothing was recorded for it)."""
        with contextlib.suppress(OSError):
            self._temp.unlink()
        with contextlib.suppress(OSError):
            self._handle.close()
