"""A content-addressed blob store on the local file system.

Layout below `root`: `sha256/ab/abcdef...` (see `image_format.content_paths.blob_relpath`) for
blobs, `tmp/` for content being written. Content is streamed to a temp file in the same file system
while it is hashed, fsynced, then renamed into place in one step, so a blob path either does not
exist or holds the complete content under its digest. Nothing is ever held whole in memory.

Not responsible for deciding what content may be stored (publishing does that) nor for serving
it over HTTP. Error contract: file system failures raise `StorageError`; exceeding `max_bytes`
raises `UploadTooLarge`; a bad digest argument raises `InvalidDigest`. A failed write leaves no
temp file behind.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, TypeGuard

from distributor.errors import StorageError, UploadTooLarge
from image_format.content_paths import blob_relpath

READ_BLOCK_BYTES = 1 << 20


def read_blocks(handle: BinaryIO, block_bytes: int = READ_BLOCK_BYTES) -> Iterator[bytes]:
    """Yield a binary file's content in blocks of at most `block_bytes`."""
    while block := handle.read(block_bytes):
        yield block


class StagedBlob:
    """Content fully written and hashed into a temp file, not yet visible in the store.

    Exactly one of `commit` or `discard` should follow; `discard` is safe to call repeatedly.
    """

    def __init__(self, store: LocalBlobStore, temp_path: Path, digest: str, size: int) -> None:
        self._store = store
        self._temp_path = temp_path
        self.digest = digest
        self.size = size

    def commit(self) -> Path:
        """Move the content into the store (dedup: an existing blob is kept). Returns its path."""
        return self._store._commit(self._temp_path, self.digest)

    def discard(self) -> None:
        self._temp_path.unlink(missing_ok=True)


class BlobWriter:
    """Writes one piece of content to a temp file while hashing it; `finish` gives a StagedBlob."""

    def __init__(self, store: LocalBlobStore, max_bytes: int | None) -> None:
        self._store = store
        self._max_bytes = max_bytes
        self._hasher = hashlib.sha256()
        self._size = 0
        fd, name = store._make_temp()
        self._temp_path = Path(name)
        self._file = os.fdopen(fd, "wb")

    def write(self, block: bytes) -> None:
        self._size += len(block)
        if self._max_bytes is not None and self._size > self._max_bytes:
            self.abort()
            raise UploadTooLarge(self._max_bytes)
        self._hasher.update(block)
        try:
            self._file.write(block)
        except OSError as exc:
            self.abort()
            raise StorageError(str(self._temp_path), f"cannot write: {exc}") from exc

    def finish(self) -> StagedBlob:
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
        except OSError as exc:
            self.abort()
            raise StorageError(str(self._temp_path), f"cannot flush: {exc}") from exc
        return StagedBlob(self._store, self._temp_path, self._hasher.hexdigest(), self._size)

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        self._temp_path.unlink(missing_ok=True)


class LocalBlobStore:
    """Blobs by sha256 under `root`. Safe for concurrent writers in several processes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tmp = root / "tmp"

    def path(self, digest: str) -> Path:
        return self.root / blob_relpath(digest)

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def size(self, digest: str) -> int:
        try:
            return self.path(digest).stat().st_size
        except OSError as exc:
            raise StorageError(str(self.path(digest)), f"cannot stat: {exc}") from exc

    def writer(self, *, max_bytes: int | None = None) -> BlobWriter:
        return BlobWriter(self, max_bytes)

    def stage(
        self, source: Iterable[bytes] | BinaryIO, *, max_bytes: int | None = None
    ) -> StagedBlob:
        """Write and hash `source` (byte blocks or a binary file) into a temp file."""
        blocks = read_blocks(source) if _is_binary_file(source) else source
        writer = self.writer(max_bytes=max_bytes)
        try:
            for block in blocks:
                writer.write(block)
        except BaseException:
            writer.abort()
            raise
        return writer.finish()

    def ingest(self, source: Iterable[bytes] | BinaryIO) -> tuple[str, int]:
        """Store `source`; return (digest, size). Storing existing content is a no-op."""
        staged = self.stage(source)
        staged.commit()
        return staged.digest, staged.size

    def _make_temp(self) -> tuple[int, str]:
        try:
            self._tmp.mkdir(parents=True, exist_ok=True)
            return tempfile.mkstemp(dir=self._tmp, prefix="blob-", suffix=".part")
        except OSError as exc:
            raise StorageError(str(self._tmp), f"cannot create a temp file: {exc}") from exc

    def _commit(self, temp_path: Path, digest: str) -> Path:
        target = self.path(digest)
        try:
            if target.is_file():
                temp_path.unlink(missing_ok=True)
                return target
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(temp_path, 0o644)
            os.replace(temp_path, target)
            _fsync_dir(target.parent)
        except OSError as exc:
            temp_path.unlink(missing_ok=True)
            raise StorageError(str(target), f"cannot move the blob into place: {exc}") from exc
        return target


def _is_binary_file(source: Iterable[bytes] | BinaryIO) -> TypeGuard[BinaryIO]:
    return hasattr(source, "read")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
