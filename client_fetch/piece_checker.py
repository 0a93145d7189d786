"""Checking a swarm download's pieces against the signed torrent's SHA-256 piece hashes, while
the download runs, so no whole-file pass is needed after the last byte.

libtorrent checks pieces too, but it trusts resume data and is not ours; this is the check the
fetcher relies on. Pieces are read back from the partial file on a worker thread as libtorrent
reports them (hashlib releases the GIL, so the download keeps going). A piece that does not match
yet may simply not be on disk yet (libtorrent reports pieces it verified in memory and may still
be writing them), so it is checked again in `finish`, after the torrent has left the session.
An all-zero piece (VM images have many, never fetched on a fresh download) is proven by the file
system reporting a hole there (SEEK_DATA), or else by comparing its bytes with zeros; its hash is
that of zeros, so either is the same check as hashing, at a fraction of the CPU (306 MB of zero
pieces: 0.2 s of CPU hashed, 2 ms as holes on tmpfs).

Not responsible for judging the image: `finish` only says whether every piece matched; the
fetcher's verifier decides what that proves (and re-hashes the whole file when it did not).
Errors: `submit` raises ValueError for a piece index out of range; an unreadable file is never an
error here, only "not every piece matched" from `finish` (the whole-file check then decides).
"""

from __future__ import annotations

import contextlib
import errno
import os
import queue
import threading
from collections.abc import Iterable
from pathlib import Path

from image_format.piece_hashes import PieceHashes


class PieceChecker:
    """Checks pieces of the file at `path` against `hashes` on one worker thread."""

    def __init__(self, path: Path, hashes: PieceHashes) -> None:
        self._path = path
        self._hashes = hashes
        self._matched = [False] * hashes.piece_count
        self._queue: queue.Queue[int | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="piece-check", daemon=True)
        self._thread.start()
        self._closed = False

    def submit(self, indices: Iterable[int]) -> None:
        """Queue pieces the swarm engine reports as complete."""
        for index in indices:
            if not 0 <= index < self._hashes.piece_count:
                raise ValueError(f"piece {index} is out of range 0..{self._hashes.piece_count}")
            if not self._closed:
                self._queue.put(index)

    def close(self) -> None:
        """Stop the worker (pieces still queued are dropped); idempotent."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()

    def finish(self) -> bool:
        """After the download: check every piece not matched yet; True when all match."""
        self.close()
        unchecked = [i for i, done in enumerate(self._matched) if not done]
        try:
            return not unchecked or self._check(unchecked, stop_at_mismatch=True)
        except OSError:
            return False

    def _run(self) -> None:
        while True:
            index = self._queue.get()
            if index is None:
                return
            if not self._matched[index]:
                # Not readable yet is not a verdict: `finish` checks it again.
                with contextlib.suppress(OSError):
                    self._check([index], stop_at_mismatch=False)

    def _check(self, indices: list[int], *, stop_at_mismatch: bool) -> bool:
        """Read and check `indices`; True when all of them matched."""
        fd = os.open(self._path, os.O_RDONLY)
        try:
            for index in indices:
                offset, length = self._hashes.span(index)
                if self._hashes.is_zero(index) and _is_hole(fd, offset, length):
                    self._matched[index] = True  # a hole reads as zeros: nothing to read
                elif self._hashes.matches(index, os.pread(fd, length, offset)):
                    self._matched[index] = True
                elif stop_at_mismatch:
                    return False
        finally:
            os.close(fd)
        return all(self._matched[i] for i in indices)


def _is_hole(fd: int, offset: int, length: int) -> bool:
    """Whether `offset … offset+length` of the file holds no data (reads as zeros), as far as the
    file system says (SEEK_DATA). False when it cannot tell: the caller then reads the bytes."""
    try:
        next_data = os.lseek(fd, offset, os.SEEK_DATA)
    except OSError as exc:  # ENXIO: no data from here to the end of the file
        return exc.errno == errno.ENXIO and offset + length <= os.fstat(fd).st_size
    return next_data >= offset + length
