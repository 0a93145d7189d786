"""The catalog in one SQLite file (WAL mode, so a CLI publish is seen by a running server).

Not responsible for validating names (publishing does). One connection guarded by a lock serves
all threads of a process; several processes may share the file. Error contract: every sqlite3
failure is raised as `CatalogError` carrying the database path; a database written by a newer
schema than this code knows is refused with `CatalogError`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, cast

from distributor.catalog.base import AddOutcome, VersionRecord
from distributor.errors import CatalogError
from image_format.manifest import ContentKind

SCHEMA_VERSION = 2
"""1: versions. 2: `retired` (NULL while the version is listed; else when it was retired)."""
BUSY_TIMEOUT_MS = 10_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS versions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('image', 'data')),
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL CHECK (size >= 0),
    created TEXT NOT NULL,
    envelope BLOB NOT NULL,
    retired TEXT,
    UNIQUE (name, version)
);
CREATE INDEX IF NOT EXISTS versions_by_sha256 ON versions (sha256);
"""
_COLUMNS = "name, version, kind, sha256, size, created, envelope"
_LISTED = "retired IS NULL"


class SqliteCatalog:
    """`Catalog` over SQLite; publication order is the row id."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._commits = 0
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                check_same_thread=False,
                isolation_level=None,
            )
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")
            self._migrate()
        except (sqlite3.Error, OSError) as exc:
            raise CatalogError(str(path), f"cannot open: {exc}") from exc

    def _migrate(self) -> None:
        # executescript commits on its own, so it runs outside an explicit transaction.
        self._db.executescript(_SCHEMA)
        with self._transaction() as db:
            row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
            found = row[0] if row else None
            if found is None:
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            elif found > SCHEMA_VERSION:
                raise CatalogError(
                    str(self.path),
                    f"schema version {found} is newer than this distributor ({SCHEMA_VERSION})",
                )
            elif found < 2:  # a catalog made before retiring existed: every version is listed
                columns = [r[1] for r in db.execute("PRAGMA table_info(versions)").fetchall()]
                if "retired" not in columns:
                    db.execute("ALTER TABLE versions ADD COLUMN retired TEXT")
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            try:
                self._db.execute("COMMIT")
                self._commits += 1
            except BaseException:
                # A failed COMMIT (disk full, I/O error) leaves the transaction open: every
                # later BEGIN on this shared connection would fail. End it, keep the error.
                with suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise

    def generation(self) -> tuple[int, int]:
        """(SQLite's `data_version`, which changes when another connection commits; this
        connection's own commits)."""
        (row,) = self._query("PRAGMA data_version")
        return (int(row[0]), self._commits)

    def _query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            with self._lock:
                return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise CatalogError(str(self.path), f"query failed: {exc}") from exc

    def add_version(self, record: VersionRecord) -> AddOutcome:
        try:
            with self._transaction() as db:
                cursor = db.execute(
                    f"INSERT INTO versions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (name, version) DO NOTHING",
                    (
                        record.name,
                        record.version,
                        record.kind,
                        record.sha256,
                        record.size,
                        record.created,
                        record.envelope,
                    ),
                )
                created = cursor.rowcount == 1
        except sqlite3.Error as exc:
            ref = f"{record.name}@{record.version}"
            raise CatalogError(str(self.path), f"cannot record {ref}: {exc}") from exc
        if created:
            return AddOutcome(record, True)
        existing = self.get_version(record.name, record.version, retired_too=True)
        if existing is None:  # pragma: no cover - rows are never deleted
            raise CatalogError(str(self.path), f"{record.name}@{record.version} vanished")
        return AddOutcome(existing, False)

    def get_version(
        self, name: str, version: str, *, retired_too: bool = False
    ) -> VersionRecord | None:
        listed = "" if retired_too else f" AND {_LISTED}"
        rows = self._query(
            f"SELECT {_COLUMNS}, retired FROM versions WHERE name = ? AND version = ?{listed}",
            (name, version),
        )
        return _record(rows[0]) if rows else None

    def retire_version(self, name: str, version: str, when: str) -> VersionRecord | None:
        known = self.get_version(name, version, retired_too=True)
        if known is None or known.retired is not None:
            return known  # nothing to write: readers watching `generation` re-read nothing
        try:
            with self._transaction() as db:
                db.execute(
                    f"UPDATE versions SET retired = ? WHERE name = ? AND version = ? AND {_LISTED}",
                    (when, name, version),
                )
        except sqlite3.Error as exc:
            raise CatalogError(str(self.path), f"cannot retire {name}@{version}: {exc}") from exc
        return self.get_version(name, version, retired_too=True)

    def latest(self, name: str) -> VersionRecord | None:
        rows = self._query(
            f"SELECT {_COLUMNS}, retired FROM versions WHERE name = ? AND {_LISTED} "
            "ORDER BY id DESC LIMIT 1",
            (name,),
        )
        return _record(rows[0]) if rows else None

    def list_versions(self, name: str) -> list[VersionRecord]:
        rows = self._query(
            f"SELECT {_COLUMNS}, retired FROM versions WHERE name = ? AND {_LISTED} ORDER BY id",
            (name,),
        )
        return [_record(row) for row in rows]

    def list_images(self) -> dict[str, list[VersionRecord]]:
        images: dict[str, list[VersionRecord]] = {}
        for row in self._query(
            f"SELECT {_COLUMNS}, retired FROM versions WHERE {_LISTED} ORDER BY name, id"
        ):
            record = _record(row)
            images.setdefault(record.name, []).append(record)
        return images

    def every_version(self) -> list[VersionRecord]:
        return [
            _record(row)
            for row in self._query(f"SELECT {_COLUMNS}, retired FROM versions ORDER BY name, id")
        ]

    def check(self) -> None:
        self._query("SELECT 1 FROM versions LIMIT 1")

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _record(row: tuple[Any, ...]) -> VersionRecord:
    name, version, kind, sha256, size, created, envelope, retired = row
    return VersionRecord(
        name=name,
        version=version,
        kind=cast(ContentKind, kind),
        sha256=sha256,
        size=int(size),
        created=created,
        envelope=bytes(envelope),
        retired=retired,
    )
