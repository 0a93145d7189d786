"""sha256 on a worker thread, so hashing overlaps network reads and disk writes.

hashlib releases the GIL while hashing blocks larger than 2 KiB, so on a host with two cores a
download runs at network or disk speed instead of at (network + hash) speed. Memory is bounded by
`max_pending_blocks` blocks in flight.

Not responsible for the bytes' order or origin: callers feed blocks in file order.
Errors: none of its own; `hexdigest` after `close` raises ValueError.
"""

from __future__ import annotations

import hashlib
import queue
import threading


class BackgroundHasher:
    """A sha256 whose `update` returns at once; `hexdigest` waits for the blocks in flight."""

    def __init__(self, max_pending_blocks: int = 64) -> None:
        self._hasher = hashlib.sha256()
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=max_pending_blocks)
        self._thread = threading.Thread(target=self._run, name="sha256", daemon=True)
        self._thread.start()
        self._closed = False

    def _run(self) -> None:
        while True:
            block = self._queue.get()
            if block is None:
                return
            self._hasher.update(block)

    def update(self, block: bytes) -> None:
        if self._closed:
            raise ValueError("hasher is closed")
        self._queue.put(block)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()

    def hexdigest(self) -> str:
        self.close()
        return self._hasher.hexdigest()
