"""Torrent files stored by the sha256 of their bytes under `DATA/torrents/`."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from distributor.errors import StorageError
from distributor.storage.staging import (
    create_locked_temp,
    make_dirs_durably,
    replace_durably,
    sweep_staging,
)
from image_format.content_paths import torrent_relpath


class TorrentStore:
    """Content-addressed .torrent files (`sha256/ab/abcdef...` below the root).

    A torrent is written to a temp file `.torrent-*` beside its final name, `flock`ed until it
    is renamed into place (`distributor.storage.staging`); `put` returns once the file and its
    directory entry are durable, so the manifest that names it can be recorded.

    Not responsible for making torrents (`TorrentPublishStep`) nor for HTTP. Error contract:
    `put` raises `StorageError` when the file cannot be written; `path` raises `InvalidDigest`
    for a malformed digest and never checks existence; `sweep_staging` never raises.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, digest: str) -> Path:
        return self.root / torrent_relpath(digest)

    def put(self, data: bytes) -> str:
        """Store `data` (atomically, idempotently) and return its sha256."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if target.is_file() and target.stat().st_size == len(data):
            return digest
        try:
            make_dirs_durably(target.parent)
            fd, temp = create_locked_temp(target.parent, prefix=".torrent-")
            with os.fdopen(fd, "wb") as handle:  # holds the lock until the rename is done
                try:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                    replace_durably(temp, target)
                except BaseException:
                    temp.unlink(missing_ok=True)
                    raise
        except OSError as exc:
            raise StorageError(str(target), f"cannot store a torrent: {exc}") from exc
        return digest

    def sweep_staging(self) -> list[Path]:
        """Remove temp files whose writer died; never one a live writer holds. Never raises."""
        return sweep_staging(self.root.glob("sha256/*/.torrent-*"))
