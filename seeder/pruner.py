"""Removing the files a remote seeder keeps for versions that are no longer listed.

A seeder with storage of its own downloads each listed version's image and patches into
`DATA/blobs/`; once a version is retired it stops seeding them, and without this its disk would
fill with every version ever published. `UnlistedFilePruner` removes a stored file once no
listed version's manifest has named it for `after_seconds` in a row (a version listed again
within that time keeps its file; a restart starts every count again, so it only delays).

Never in a distributor's data directory: a seeder co-located with the distributor seeds the
distributor's own blobs in place, and `distributor gc` decides what goes there
(`for_settings` returns None when DATA holds any of the distributor's marks). The reconciler
calls `prune` only in a round where it knows every listed version's manifest, never while a
listing is empty (more likely a fault than a project that retired everything), and never for a
file it is downloading or seeding.

Not responsible for deciding what is listed (`seeder.reconciler`). Error contract: `prune`
never raises: a file it cannot remove is logged and tried again in a later round.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Set
from pathlib import Path

from seeder.settings import SeederSettings

log = logging.getLogger(__name__)

DISTRIBUTOR_MARKS = ("catalog.sqlite", "keys", "storage.lock", "torrents", "packs")
"""Entries only a distributor's data directory has."""


def is_distributor_data_dir(data_dir: Path) -> bool:
    return any((data_dir / mark).exists() for mark in DISTRIBUTOR_MARKS)


class UnlistedFilePruner:
    """Counts how long each stored blob has gone unnamed, and removes it after `after_seconds`."""

    def __init__(
        self, blob_root: Path, after_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._blob_root = blob_root
        self._after_seconds = after_seconds
        self._clock = clock
        self._unnamed_since: dict[str, float] = {}

    @classmethod
    def for_settings(cls, settings: SeederSettings) -> UnlistedFilePruner | None:
        """The pruner of a seeder's own storage; None for a distributor's data directory or
        when `remove_unlisted_after_hours` is 0 (keep everything)."""
        if settings.remove_unlisted_after_hours == 0:
            return None
        if is_distributor_data_dir(settings.data_dir):
            log.info(
                "%s is a distributor's data directory: the seeder never removes files there "
                "(`distributor gc` does)",
                settings.data_dir,
            )
            return None
        return cls(settings.blob_root, settings.remove_unlisted_after_hours * 3600)

    def prune(self, named: Set[str]) -> list[Path]:
        """One round: `named` holds the sha256 of every file a listed version needs (or that is
        being downloaded or seeded). Returns the files removed."""
        now = self._clock()
        removed: list[Path] = []
        present: set[str] = set()
        for path in sorted(self._blob_root.glob("sha256/*/*")):
            digest = path.name
            if digest.startswith(".") or len(digest) != 64:
                continue
            present.add(digest)
            if digest in named:
                self._unnamed_since.pop(digest, None)
                continue
            since = self._unnamed_since.setdefault(digest, now)
            if now - since < self._after_seconds:
                continue
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("cannot remove %s (no listed version names it): %s", path, exc)
                continue
            log.info("removed %s: no listed version has named it for %.0f s", path, now - since)
            removed.append(path)
            present.discard(digest)
        for digest in set(self._unnamed_since) - present:
            del self._unnamed_since[digest]
        return removed
