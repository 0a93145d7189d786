"""The SQLite catalog's transactions: a COMMIT that fails must not leave the shared connection
inside a transaction (every later write would then fail with "cannot start a transaction")."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from distributor.catalog.sqlite import SqliteCatalog
from distributor.errors import CatalogError
from tests.test_tracker_index import record


class CommitFailsOnce:
    """Our connection as the catalog uses it, whose next COMMIT fails like a full disk."""

    def __init__(self, real: sqlite3.Connection) -> None:
        self._real = real
        self.failed = False

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql == "COMMIT" and not self.failed:
            self.failed = True
            raise sqlite3.OperationalError("database or disk is full")
        return self._real.execute(sql, *args)


def test_a_failed_commit_ends_the_transaction_and_later_writes_work(tmp_path: Path) -> None:
    catalog = SqliteCatalog(tmp_path / "catalog.sqlite")
    failing = CommitFailsOnce(catalog._db)
    catalog._db = failing  # type: ignore[assignment]
    with pytest.raises(CatalogError, match="disk is full"):
        catalog.add_version(record("1", None))
    assert failing.failed
    assert catalog.get_version("img", "1") is None  # rolled back, not half-written
    assert catalog.add_version(record("2", None)).created
    assert catalog.get_version("img", "2") is not None
