"""The literal lane of a section: NEW bytes that match nothing in OLD, as one zstd frame.

All unmatched content of a section (up to `SECTION_LANE_BYTES` of it) is compressed as one long
zstd frame (content checksum on) instead of many small independent frames, so a new file's
bytes are matched against every earlier new file of the section. Making runs each lane on its
own worker thread (zstd releases the GIL), so lanes compress while the main thread keeps
diffing and two lanes use both cores. A lane's queue is not bounded by itself: the section
closes at `sections.SECTION_LANE_BYTES`, so the main thread never waits on a lane while filling
a section, and the next section's lane starts compressing at once.

Not responsible for the records that say where lane bytes go (`records`) nor for the section
framing (`sections`). Error contract: `LaneCompressor.finish` re-raises what failed on its
thread (MemoryError, ZstdError); `LaneReader` raises `DeltaCorrupt` (via the `corrupt` callback)
for a truncated, damaged, short or overlong lane or an unusable window log (every zstd error),
OSError from reading the patch.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import BinaryIO

import zstandard

from image_format.delta.errors import DeltaCorrupt

MIN_DICT_LOG = 12  # the smallest lane window a patch may declare (4 KiB)
MAX_DICT_LOG = 26  # the largest lane window a reader accepts (64 MiB of decoder memory)
_READ_BYTES = 1 << 10
"""Compressed bytes fed to the decoder at a time: a zstd block can expand 128 KiB from a few
bytes, so small inputs keep what one step may produce bounded (about 40 MiB at worst)."""


def lane_parameters(level: int, dict_log: int) -> zstandard.ZstdCompressionParameters:
    """zstd's parameters for `level` (1-22) with a window of `2**dict_log` bytes, long-distance
    matching on (a new package's files repeat each other far apart)."""
    return zstandard.ZstdCompressionParameters.from_level(
        level, window_log=dict_log, enable_ldm=True, write_checksum=True, write_content_size=False
    )


class LaneCompressor:
    """Compresses the bytes fed to it into one zstd frame on a worker thread."""

    def __init__(self, parameters: zstandard.ZstdCompressionParameters) -> None:
        self._parameters = parameters
        self._queue: queue.Queue[bytes | None] = queue.Queue()  # bounded by the section size
        self._chunks: list[bytes] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="delta-lane", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            compressor = zstandard.ZstdCompressor(compression_params=self._parameters).compressobj()
            while (piece := self._queue.get()) is not None:
                out = compressor.compress(piece)
                if out:
                    self._chunks.append(out)
            self._chunks.append(compressor.flush())
        except BaseException as exc:  # handed to the main thread by finish()
            self._error = exc
            while self._queue.get() is not None:  # drop the rest of the input
                pass

    def feed(self, data: bytes) -> None:
        self._queue.put(data)

    def finish(self) -> list[bytes]:
        """End the frame; returns its bytes in pieces (waits for the thread)."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._chunks

    def abandon(self) -> None:
        """Stop the thread without using its output (after an error elsewhere)."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()


class LaneReader:
    """Hands out a section's lane bytes in order, reading `length` patch bytes as needed."""

    def __init__(
        self,
        patch: BinaryIO,
        length: int,
        dict_log: int,
        corrupt: Callable[[str], DeltaCorrupt],
    ) -> None:
        self._patch = patch
        self._left = length
        self._corrupt = corrupt
        self._decoder: zstandard.ZstdDecompressionObj | None = None
        if length:
            try:
                decompressor = zstandard.ZstdDecompressor(max_window_size=1 << dict_log)
            except zstandard.ZstdError as exc:  # the header's window log is checked: not expected
                raise corrupt(f"literal lane window log {dict_log}: {exc}") from exc
            self._decoder = decompressor.decompressobj()
        self._buffer = bytearray()  # decoded, not handed out yet
        self.read_bytes = 0  # patch bytes consumed so far

    def _fill(self) -> bool:
        """Decode the next few patch bytes into the buffer; False once the frame has ended."""
        decoder = self._decoder
        if decoder is None or decoder.eof:
            return False
        if self._left == 0:
            raise self._corrupt("the literal lane is truncated")
        chunk = self._patch.read(min(_READ_BYTES, self._left))
        if not chunk:
            raise self._corrupt("patch is truncated inside a literal lane")
        self._left -= len(chunk)
        self.read_bytes += len(chunk)
        try:
            self._buffer += decoder.decompress(chunk)
        except zstandard.ZstdError as exc:
            raise self._corrupt(f"literal lane: {exc}") from exc
        return True

    def read(self, size: int) -> bytes:
        """The next `size` lane bytes."""
        while len(self._buffer) < size:
            if not self._fill():
                raise self._corrupt("the records need more literal bytes than the lane holds")
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def finish(self) -> None:
        """The lane must end exactly here: no bytes left over, the frame complete."""
        decoder = self._decoder
        if decoder is None:
            return
        while True:
            if self._buffer:
                raise self._corrupt("the literal lane holds more bytes than its records use")
            if not self._fill():
                break
        if self._left or decoder.unused_data:
            raise self._corrupt("data after the end of a literal lane")
