"""Removing the files a remote seeder downloaded for versions that are no longer listed.

A seeder with storage of its own downloads each listed version's image and patches into
`DATA/blobs/`; once a version is retired it stops seeding them, and without this its disk would
fill with every version ever published. `UnlistedFilePruner` removes such a file once no listed
version's manifest has named it for `after_seconds` of pruning rounds in a row.

What keeps it away from anything else:
- It only ever removes a file this seeder downloaded itself: `DownloadLedger` (`DATA/seeder/
  downloaded`) records each one as it is moved into place. A distributor's own blobs, or files
  put there by hand, are never candidates.
- Never in a distributor's data directory: it looks for the distributor's marks beside the blob
  folder (and beside its real path, if it is a link) and inside it (the blob store's staging
  folder) in every round, and once it has seen one it stops for good (`distributor gc` owns that
  directory).
- The reconciler calls `prune` only in a round where it read the listing and every listed
  version's manifest; any other round calls `reset`, so a count only runs through rounds that
  saw the listing (a file listed again while the catalog could not be read starts over).
- A round in which none of the files it downloaded is named by the listing removes nothing (a
  listing from the wrong server, or a catalog restored from an old backup, would otherwise empty
  the store), nor does one with an empty listing (the reconciler does not call it then).
- A restart starts every count again: it only delays.

Not responsible for deciding what is listed (`seeder.reconciler`). Error contract: `prune`,
`reset` and the ledger never raise: a file or ledger it cannot read or write is logged, and left
for a later round.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Set
from pathlib import Path

from image_format.content_paths import blob_relpath
from seeder.settings import SeederSettings

log = logging.getLogger(__name__)

DISTRIBUTOR_MARKS = ("catalog.sqlite", "keys", "storage.lock", "torrents", "packs")
"""Entries only a distributor's data directory has beside its `blobs` folder."""
DISTRIBUTOR_BLOB_MARKS = ("tmp",)
"""Entries only a distributor's blob store has inside it (its staging folder)."""
_DIGEST = re.compile(r"[0-9a-f]{64}")


def is_distributor_data_dir(blob_root: Path) -> bool:
    """True when `blob_root` (or the folder it links to) belongs to a distributor."""
    parents = {blob_root.parent, blob_root.resolve().parent}
    beside = any((parent / mark).exists() for parent in parents for mark in DISTRIBUTOR_MARKS)
    return beside or any((blob_root / mark).exists() for mark in DISTRIBUTOR_BLOB_MARKS)


class DownloadLedger:
    """The sha256 of each blob this seeder downloaded itself, one per line: the only files it
    may ever remove. Thread-safe (downloads record from a worker thread)."""

    def __init__(self, work_dir: Path) -> None:
        self.path = work_dir / "downloaded"
        self._lock = threading.Lock()

    def add(self, digest: str) -> None:
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a") as ledger:
                    ledger.write(digest + "\n")
            except OSError as exc:
                log.warning("cannot record the download of %s in %s: %s", digest, self.path, exc)

    def digests(self) -> set[str]:
        with self._lock:
            return self._read()

    def forget(self, digests: Set[str]) -> None:
        """Drop `digests` from the ledger (rewritten atomically)."""
        with self._lock:
            kept = self._read() - digests
            temp = self.path.with_name(self.path.name + ".new")
            try:
                temp.write_text("".join(f"{digest}\n" for digest in sorted(kept)))
                os.replace(temp, self.path)
            except OSError as exc:
                log.warning("cannot rewrite %s: %s", self.path, exc)
                with contextlib.suppress(OSError):
                    temp.unlink()

    def _read(self) -> set[str]:
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            return set()
        except OSError as exc:
            log.warning("cannot read %s: %s", self.path, exc)
            return set()
        return {line.strip() for line in lines if _DIGEST.fullmatch(line.strip())}


class UnlistedFilePruner:
    """Counts how long each downloaded blob has gone unnamed, and removes it after
    `after_seconds` (see the module for what keeps it from removing anything else)."""

    def __init__(
        self,
        blob_root: Path,
        ledger: DownloadLedger,
        after_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._blob_root = blob_root
        self._ledger = ledger
        self._after_seconds = after_seconds
        self._clock = clock
        self._unnamed_since: dict[str, float] = {}
        self._off = False

    @classmethod
    def for_settings(cls, settings: SeederSettings) -> UnlistedFilePruner | None:
        """None when `remove_unlisted_after_hours` is 0 (keep everything; downloads are then
        not recorded either, so they stay for good)."""
        if settings.remove_unlisted_after_hours == 0:
            return None
        ledger = DownloadLedger(settings.work_dir)
        return cls(settings.blob_root, ledger, settings.remove_unlisted_after_hours * 3600)

    def record_download(self, digest: str) -> None:
        """A blob this seeder downloaded itself was moved into place: one it may remove later."""
        self._ledger.add(digest)

    def reset(self) -> None:
        """A round without pruning (listing or a manifest unread): every count starts over."""
        self._unnamed_since.clear()

    def prune(self, named: Set[str]) -> list[Path]:
        """One round: `named` holds the sha256 of every file a listed version names (or that is
        being downloaded or seeded). Returns the files removed."""
        if self._off or is_distributor_data_dir(self._blob_root):
            if not self._off:
                log.info(
                    "%s belongs to a distributor: the seeder never removes files there "
                    "(`distributor gc` does)",
                    self._blob_root,
                )
            self._off = True
            return []
        downloaded = self._ledger.digests()
        present = {d for d in downloaded if self._path(d).is_file()}
        if present and not present & named:
            self.reset()  # the listing names none of them: a wrong server rather than retirement
            return []
        now = self._clock()
        removed: list[Path] = []
        for digest in sorted(present - named):
            since = self._unnamed_since.setdefault(digest, now)
            if now - since < self._after_seconds:
                continue
            path = self._path(digest)
            try:
                path.unlink()
            except OSError as exc:
                log.warning("cannot remove %s (no listed version names it): %s", path, exc)
                continue
            log.info("removed %s: no listed version has named it for %.0f s", path, now - since)
            removed.append(path)
            present.discard(digest)
        for digest in [d for d in self._unnamed_since if d not in present or d in named]:
            del self._unnamed_since[digest]
        if downloaded - present:
            self._ledger.forget(downloaded - present)
        return removed

    def _path(self, digest: str) -> Path:
        return self._blob_root / blob_relpath(digest)
