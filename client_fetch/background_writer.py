"""File writes on a worker thread, with kernel writeback started as the file grows.

The receiving thread hands blocks over and goes back to the socket; this thread `pwrite`s them and,
every `writeback_bytes`, asks Linux to start writing that range to disk (`sync_file_range` with
SYNC_FILE_RANGE_WRITE, which does not wait). The promoter's fsync before the commit then finds
little left to flush, instead of a whole image of dirty pages. Memory is bounded by
`max_pending_blocks` blocks in flight.

Not responsible for ordering across writers (one writer per file) nor for durability (the
promoter's fsync is what makes the file durable). Error contract: an OSError on the worker (disk
full) is re-raised by the next `write` or by `flush`.
"""

from __future__ import annotations

import ctypes
import functools
import os
import queue
import threading
from collections.abc import Callable

WRITEBACK_BYTES = 64 << 20
_SYNC_FILE_RANGE_WRITE = 2


@functools.cache
def _sync_file_range() -> Callable[[int, int, int], None]:
    """libc's sync_file_range, from the symbols already loaded (no `ctypes.util.find_library`:
    it runs `ldconfig -p` in a child process), or a no-op where there is none."""
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return lambda fd, offset, length: None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int

    def start_writeback(fd: int, offset: int, length: int) -> None:
        function(fd, offset, length, _SYNC_FILE_RANGE_WRITE)  # a hint: failures are harmless

    return start_writeback


class BackgroundWriter:
    """Appends blocks to `fd` from `offset` on a worker thread."""

    def __init__(self, fd: int, offset: int, max_pending_blocks: int = 32) -> None:
        self._fd = fd
        self._offset = offset
        self._synced_to = offset
        self._queue: queue.Queue[bytes | int | None] = queue.Queue(maxsize=max_pending_blocks)
        self._error: OSError | None = None
        self._thread = threading.Thread(target=self._run, name="writer", daemon=True)
        self._thread.start()
        self._closed = False

    def _run(self) -> None:
        while True:
            block = self._queue.get()
            if block is None:
                return
            if self._error is not None:
                continue  # drain: the error is reported to the producer
            try:
                if isinstance(block, int):
                    self._offset += block  # a hole: nothing written, the file stays sparse
                else:
                    self._write(block)
            except OSError as exc:
                self._error = exc

    def _write(self, block: bytes) -> None:
        view = memoryview(block)
        while view:
            written = os.pwrite(self._fd, view, self._offset)
            view = view[written:]
            self._offset += written
        if self._offset - self._synced_to >= WRITEBACK_BYTES:
            _sync_file_range()(self._fd, self._synced_to, self._offset - self._synced_to)
            self._synced_to = self._offset

    def write(self, block: bytes) -> None:
        if self._error is not None:
            raise self._error
        if self._closed:
            raise ValueError("writer is closed")
        self._queue.put(block)

    def skip(self, count: int) -> None:
        """Leave `count` bytes as a hole (they read as zeros)."""
        if self._error is not None:
            raise self._error
        self._queue.put(count)

    def flush(self) -> None:
        """Wait until every block is written; raise the worker's error, if any."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()
            if self._error is None and os.fstat(self._fd).st_size < self._offset:
                os.ftruncate(self._fd, self._offset)  # a trailing hole
        if self._error is not None:
            raise self._error
