"""Torrent files stored by the sha256 of their bytes under `DATA/torrents/`."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from distributor.errors import StorageError
from image_format.content_paths import torrent_relpath


class TorrentStore:
    """Content-addressed .torrent files (`sha256/ab/abcdef...` below the root).

    Not responsible for making torrents (`TorrentPublishStep`) nor for HTTP. Error contract:
    `put` raises `StorageError` when the file cannot be written; `path` raises `InvalidDigest`
    for a malformed digest and never checks existence.
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
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(prefix=".torrent-", dir=target.parent)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(temp, target)
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise StorageError(str(target), f"cannot store a torrent: {exc}") from exc
        return digest
