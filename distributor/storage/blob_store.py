"""A content-addressed blob store on the local file system.

Layout below `root`: `sha256/ab/abcdef...` (see `image_format.content_paths.blob_relpath`) for
blobs, `tmp/blob-*.part` for content being written. Content is streamed to a temp file in the same
file system while it is hashed, fsynced, then renamed into place in one step (and the directory
fsynced), so a blob path either does not exist or holds the complete content under its digest.
Nothing is ever held whole in memory. A temp file stays `flock`ed by its writer until it is
committed or discarded, so `sweep_staging` removes only those whose writer died (kill -9, power
loss): see `distributor.storage.staging` for the rule.

Not responsible for deciding what content may be stored (publishing does that) nor for serving
it over HTTP. Error contract: file system failures raise `StorageError`; exceeding `max_bytes`
raises `UploadTooLarge`; a bad digest argument raises `InvalidDigest`. A failed write leaves no
temp file behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, TypeGuard

from distributor.errors import StorageError, UploadTooLarge
from distributor.storage.staging import (
    create_locked_temp,
    make_dirs_durably,
    replace_durably,
    sweep_staging,
)
from image_format.content_paths import blob_relpath

READ_BLOCK_BYTES = 1 << 20


def read_blocks(handle: BinaryIO, block_bytes: int = READ_BLOCK_BYTES) -> Iterator[bytes]:
    """Yield a binary file's content in blocks of at most `block_bytes`."""
    while block := handle.read(block_bytes):
        yield block


class StagedBlob:
    """Content fully written and hashed into a temp file, not yet visible in the store.

    Exactly one of `commit` or `discard` should follow; `discard` is safe to call repeatedly.
    Until then the temp file stays open and locked (a sweep leaves it alone).
    """

    def __init__(
        self, store: LocalBlobStore, temp_path: Path, lock_fd: int, digest: str, size: int
    ) -> None:
        self._store = store
        self._temp_path = temp_path
        self._lock_fd: int | None = lock_fd
        self.digest = digest
        self.size = size

    def commit(self) -> Path:
        """Move the content into the store (dedup: an existing blob is kept). Returns its path."""
        try:
            return self._store._commit(self._temp_path, self.digest)
        finally:
            self._release()

    def discard(self) -> None:
        self._temp_path.unlink(missing_ok=True)
        self._release()

    def _release(self) -> None:
        if self._lock_fd is not None:
            fd, self._lock_fd = self._lock_fd, None
            os.close(fd)


class BlobWriter:
    """Writes one piece of content to a temp file while hashing it; `finish` gives a StagedBlob."""

    def __init__(self, store: LocalBlobStore, max_bytes: int | None) -> None:
        self._store = store
        self._max_bytes = max_bytes
        self._hasher = hashlib.sha256()
        self._size = 0
        self._fd, self._temp_path = store._make_temp()
        self._file = os.fdopen(os.dup(self._fd), "wb")

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
        """The written content, fsynced; the returned `StagedBlob` now holds the file's lock."""
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
        except OSError as exc:
            self.abort()
            raise StorageError(str(self._temp_path), f"cannot flush: {exc}") from exc
        lock_fd, self._fd = self._fd, -1  # handed over: the staged blob releases it
        digest = self._hasher.hexdigest()
        return StagedBlob(self._store, self._temp_path, lock_fd, digest, self._size)

    def abort(self) -> None:
        """Remove the temp file and release it; safe to call repeatedly."""
        self._temp_path.unlink(missing_ok=True)
        if not self._file.closed:
            with contextlib.suppress(OSError):
                self._file.close()
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)


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

    def sweep_staging(self) -> list[Path]:
        """Remove temp files whose writer died; never one a live writer holds. Never raises."""
        return sweep_staging(self._tmp.glob("blob-*.part"))

    def _make_temp(self) -> tuple[int, Path]:
        try:
            return create_locked_temp(self._tmp, prefix="blob-", suffix=".part")
        except OSError as exc:
            raise StorageError(str(self._tmp), f"cannot create a temp file: {exc}") from exc

    def _commit(self, temp_path: Path, digest: str) -> Path:
        target = self.path(digest)
        try:
            if target.is_file():
                temp_path.unlink(missing_ok=True)
                return target
            make_dirs_durably(target.parent)
            os.chmod(temp_path, 0o644)
            replace_durably(temp_path, target)
        except OSError as exc:
            temp_path.unlink(missing_ok=True)
            raise StorageError(str(target), f"cannot move the blob into place: {exc}") from exc
        return target


def _is_binary_file(source: Iterable[bytes] | BinaryIO) -> TypeGuard[BinaryIO]:
    return hasattr(source, "read")
