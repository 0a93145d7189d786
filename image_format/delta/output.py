"""The file `apply` writes: sparse (zero runs become holes), hashed as written, bounded buffers.

The output is created as a new temp file next to its final path and renamed over it only when the
caller says the content verified (`commit`); `discard` removes it. Hashing runs on a worker thread
(hashlib releases the GIL) fed through a bounded queue, so writing and hashing overlap. Nothing is
fsynced: the fetcher's promoter syncs what it keeps.

Not responsible for deciding what to write. Error contract: OSError passes through; after an
error the caller calls `discard` (safe to repeat, also stops the hashing thread).
"""

from __future__ import annotations

import hashlib
import os
import queue
import tempfile
import threading
from pathlib import Path

FLUSH_BYTES = 4 << 20
QUEUE_ITEMS = 32  # at most this many pieces (each at most a few MiB) wait to be hashed
_ZEROS = bytes(1 << 20)


class _Hasher:
    """sha256 on a worker thread: `put` bytes or a count of zero bytes, `result` joins."""

    def __init__(self) -> None:
        self._queue: queue.Queue[bytes | int | None] = queue.Queue(QUEUE_ITEMS)
        self._hash = hashlib.sha256()
        self._thread = threading.Thread(target=self._run, name="delta-hash", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if isinstance(item, int):
                while item > 0:
                    step = min(item, len(_ZEROS))
                    self._hash.update(_ZEROS if step == len(_ZEROS) else _ZEROS[:step])
                    item -= step
            else:
                self._hash.update(item)

    def put(self, item: bytes | int) -> None:
        self._queue.put(item)

    def result(self) -> str:
        self._queue.put(None)
        self._thread.join()
        return self._hash.hexdigest()


class SparseOutput:
    """Sequential writer of at most `size` bytes into a temp file beside `final_path`."""

    def __init__(self, final_path: Path, size: int) -> None:
        self.final_path = final_path
        self.size = size
        self.position = 0
        fd, name = tempfile.mkstemp(
            dir=final_path.parent, prefix=f".{final_path.name}.", suffix=".delta-tmp"
        )
        self._fd = fd
        self.temp_path = Path(name)
        self._hasher: _Hasher | None = _Hasher()
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._pending_start = 0

    def skip(self, count: int) -> None:
        """`count` zero bytes (cut at `size`): hashed, never written, left as a hole."""
        count = min(count, self.size - self.position)
        self._flush()
        if self._hasher is not None and count > 0:
            self._hasher.put(count)
        self.position += count

    def write(self, data: bytes) -> None:
        """Append `data` (cut at `size`)."""
        room = self.size - self.position
        if len(data) > room:
            data = data[:room]
        if not self._pending:
            self._pending_start = self.position
        if self._hasher is not None:
            self._hasher.put(data)
        self._pending.append(data)
        self._pending_bytes += len(data)
        self.position += len(data)
        if self._pending_bytes >= FLUSH_BYTES:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        offset = self._pending_start
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        view = memoryview(data)
        while view:
            written = os.pwrite(self._fd, view, offset)
            view, offset = view[written:], offset + written
        self._pending.clear()
        self._pending_bytes = 0

    def finish(self) -> str:
        """Flush, set the file's length to `position`; returns the sha256 of what was written."""
        self._flush()
        os.ftruncate(self._fd, self.position)
        hasher, self._hasher = self._hasher, None
        return hasher.result() if hasher is not None else ""

    def commit(self) -> None:
        os.close(self._fd)
        self._fd = -1
        os.replace(self.temp_path, self.final_path)

    def discard(self) -> None:
        hasher, self._hasher = self._hasher, None
        if hasher is not None:
            hasher.result()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        self.temp_path.unlink(missing_ok=True)
