"""The literal lane of a section: NEW bytes that match nothing in OLD, as one xz stream.

All unmatched content of a section (up to `SECTION_LANE_BYTES` of it) is compressed as one long
stream instead of many small independent frames: xz (LZMA2, CRC32 check) after the x86 BCJ
filter, which turns the relative targets of CALL/JMP instructions into absolute ones so repeated
calls to one function look alike (it leaves other content almost untouched). Making runs each
lane on its own worker thread (liblzma releases the GIL), so lanes compress while the main
thread keeps diffing and two lanes use both cores. A lane's queue is not bounded by itself: the
section closes at `sections.SECTION_LANE_BYTES`, so the main thread never waits on a lane while
filling a section, and the next section's lane starts compressing at once.

Not responsible for the records that say where lane bytes go (`records`) nor for the section
framing (`sections`). Error contract: `LaneCompressor.finish` re-raises what failed on its
thread (MemoryError, LZMAError); `LaneReader` raises `DeltaCorrupt` (via the `corrupt` callback)
for a truncated, damaged, short or overlong lane, OSError from reading the patch.
"""

from __future__ import annotations

import lzma
import queue
import threading
from collections.abc import Callable
from typing import Any, BinaryIO

from image_format.delta.errors import DeltaCorrupt

MIN_DICT_LOG = 12  # liblzma's smallest dictionary (4 KiB)
MAX_DICT_LOG = 26  # the largest LZMA dictionary a reader accepts (64 MiB)
_READ_BYTES = 1 << 16
_DECODER_SLACK = 8 << 20  # memlimit above the dictionary (BCJ and LZMA2 decoder state)


def lane_filters(level: int, dict_log: int) -> list[dict[str, Any]]:
    """The filter chain for `level` (1-22, as zstd's) and a dictionary of `2**dict_log` bytes.

    Levels 10 and up: LZMA2 preset 6 with a match-finder depth of 24 instead of 48 (on the
    Debian pair: preset 6's bytes within 0.01 % for about 6 % less CPU; nice lengths of 32-48
    cost 0.5 % more bytes for no clear saving); 5-9: preset 4; below: preset 1.
    """
    options: dict[str, Any]
    if level >= 10:
        options = {"preset": 6, "nice_len": 64, "depth": 24}
    elif level >= 5:
        options = {"preset": 4}
    else:
        options = {"preset": 1}
    options.update(id=lzma.FILTER_LZMA2, dict_size=1 << dict_log)
    return [{"id": lzma.FILTER_X86}, options]


class LaneCompressor:
    """Compresses the bytes fed to it into one xz stream on a worker thread."""

    def __init__(self, filters: list[dict[str, Any]]) -> None:
        self._filters = filters
        self._queue: queue.Queue[bytes | None] = queue.Queue()  # bounded by the section size
        self._chunks: list[bytes] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="delta-lane", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            compressor = lzma.LZMACompressor(
                format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32, filters=self._filters
            )
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
        """End the stream; returns its bytes in pieces (waits for the thread)."""
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
        self._decoder = (
            lzma.LZMADecompressor(format=lzma.FORMAT_XZ, memlimit=(1 << dict_log) + _DECODER_SLACK)
            if length
            else None
        )
        self.read_bytes = 0  # patch bytes consumed so far

    def _step(self, max_length: int) -> bytes:
        decoder = self._decoder
        if decoder is None or decoder.eof:
            raise self._corrupt("the records need more literal bytes than the lane holds")
        chunk = b""
        if decoder.needs_input:
            if self._left == 0:
                raise self._corrupt("the literal lane is truncated")
            chunk = self._patch.read(min(_READ_BYTES, self._left))
            if not chunk:
                raise self._corrupt("patch is truncated inside a literal lane")
            self._left -= len(chunk)
            self.read_bytes += len(chunk)
        try:
            return decoder.decompress(chunk, max_length)
        except lzma.LZMAError as exc:
            raise self._corrupt(f"literal lane: {exc}") from exc

    def read(self, size: int) -> bytes:
        """The next `size` lane bytes."""
        parts: list[bytes] = []
        got = 0
        while got < size:
            data = self._step(size - got)
            parts.append(data)
            got += len(data)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def finish(self) -> None:
        """The lane must end exactly here: no bytes left over, the stream complete."""
        decoder = self._decoder
        if decoder is None:
            return
        while not decoder.eof:
            if self._step(1):
                raise self._corrupt("the literal lane holds more bytes than its records use")
        if self._left or decoder.unused_data:
            raise self._corrupt("data after the end of a literal lane")
