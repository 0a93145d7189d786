"""The patch body: sections of records, each followed by its literal lane, then a trailer.

```
section := 'S' · varint records_length · varint lane_length
           · records (one zstd frame, checksum and content size on)
           · lane (one zstd frame; absent when lane_length is 0)
trailer := "VIDDEND2" · u64 length of header + sections
```
The last section's records end with END. A section closes when its lane holds
`SECTION_LANE_BYTES` or its records `SECTION_RECORD_BYTES`, so the reader holds at most one
section's records (`MAX_RECORD_BYTES`) and one lane decoder (the header's dictionary) however
large the images; the maker holds up to `threads` sections' compressed lanes.

Not responsible for what records mean (`records`, `apply`). Error contract: `SectionWriter` lets
the sink's OSError and a lane thread's error through (`abandon` stops the threads after any
error); `SectionReader` raises `DeltaCorrupt` (with a patch offset) for bad framing, a damaged
or oversized records frame or bytes after it within `records_length`, a bad trailer or bytes
after it.
"""

from __future__ import annotations

import struct
from collections import deque
from typing import BinaryIO, Protocol

import zstandard

from image_format.delta.errors import DeltaCorrupt
from image_format.delta.lanes import LaneCompressor, LaneReader
from image_format.delta.records import RecordReader, varint

SECTION_TAG = b"S"
SECTION_LANE_BYTES = 32 << 20
SECTION_RECORD_BYTES = 8 << 20
MAX_RECORD_BYTES = 16 << 20  # > SECTION_RECORD_BYTES + one DELTA record
TRAILER_MAGIC = b"VIDDEND2"
_TRAILER = struct.Struct(">8sQ")


class ByteSink(Protocol):
    """Where a patch is written: anything with `write(bytes)` (a file, a blob writer)."""

    def write(self, data: bytes, /) -> object: ...


class CountingWriter:
    """Passes writes to `sink` and counts the bytes."""

    def __init__(self, sink: ByteSink) -> None:
        self._sink = sink
        self.count = 0

    def write(self, data: bytes) -> None:
        self._sink.write(data)
        self.count += len(data)


class SectionWriter:
    """Collects records and literal bytes into sections; lanes compress on worker threads."""

    def __init__(
        self,
        sink: CountingWriter,
        level: int,
        lane_parameters: zstandard.ZstdCompressionParameters,
        threads: int,
    ) -> None:
        """`sink` has already received the header (its count includes it)."""
        self._sink = sink
        self._records_compressor = zstandard.ZstdCompressor(
            level=level, write_checksum=True, write_content_size=True
        )
        self._lane_parameters = lane_parameters
        self._threads = max(1, threads)
        self._records = bytearray()
        self._lane: LaneCompressor | None = None
        self._lane_bytes = 0
        self._pending: deque[tuple[bytes, LaneCompressor | None]] = deque()
        self.sections = 0

    def record(self, data: bytes, literal: bytes = b"") -> None:
        """One record, and for LITERAL its lane bytes (at most a few MiB at a time)."""
        self._records += data
        if literal:
            if self._lane is None:
                self._lane = LaneCompressor(self._lane_parameters)
            self._lane.feed(literal)
            self._lane_bytes += len(literal)
        if len(self._records) >= SECTION_RECORD_BYTES or self._lane_bytes >= SECTION_LANE_BYTES:
            self._close()

    def _close(self) -> None:
        if not self._records:
            return
        frame = self._records_compressor.compress(bytes(self._records))
        self._pending.append((frame, self._lane))
        self._records, self._lane, self._lane_bytes = bytearray(), None, 0
        self._drain(self._threads - 1)

    def _drain(self, keep: int) -> None:
        while len(self._pending) > keep:
            frame, lane = self._pending[0]
            chunks = lane.finish() if lane is not None else []
            self._pending.popleft()
            lane_length = sum(len(chunk) for chunk in chunks)
            self._sink.write(SECTION_TAG + varint(len(frame)) + varint(lane_length) + frame)
            for chunk in chunks:
                self._sink.write(chunk)
            self.sections += 1

    def finish(self) -> int:
        """Close the last section, write everything and the trailer; returns the patch length."""
        self._close()
        self._drain(0)
        self._sink.write(_TRAILER.pack(TRAILER_MAGIC, self._sink.count))
        return self._sink.count

    def abandon(self) -> None:
        """Stop every lane thread (after an error; the patch is unusable)."""
        lanes = [lane for _frame, lane in self._pending] + [self._lane]
        for lane in lanes:
            if lane is not None:
                lane.abandon()
        self._pending.clear()
        self._lane = None


class SectionReader:
    """Reads sections in order from a patch positioned just after its header."""

    def __init__(self, patch: BinaryIO, offset: int, dict_log: int) -> None:
        self._patch = patch
        self._offset = offset  # patch bytes consumed so far
        self._dict_log = dict_log
        self._lane: LaneReader | None = None

    @property
    def offset(self) -> int:
        """Patch bytes consumed so far (the current lane's included), for errors."""
        lane = self._lane
        return self._offset + (lane.read_bytes if lane is not None else 0)

    def _corrupt(self, reason: str) -> DeltaCorrupt:
        return DeltaCorrupt(self._offset, reason)

    def _read(self, size: int) -> bytes:
        data = self._patch.read(size)
        while len(data) < size:
            more = self._patch.read(size - len(data))
            if not more:
                raise self._corrupt("patch is truncated inside a section")
            data += more
        self._offset += size
        return data

    def _varint(self) -> int:
        value = shift = 0
        while True:
            byte = self._read(1)[0]
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7
            if shift > 63:
                raise self._corrupt("varint longer than 64 bits")

    def next(self) -> tuple[RecordReader, LaneReader]:
        """The next section's records and lane (after the previous lane was finished)."""
        self._settle()
        start = self._offset
        if self._read(1) != SECTION_TAG:
            raise self._corrupt("expected a section")
        records_length, lane_length = self._varint(), self._varint()
        if not 0 < records_length <= MAX_RECORD_BYTES:
            raise self._corrupt(f"a records frame of {records_length} bytes")
        frame = self._read(records_length)
        try:
            size = zstandard.frame_content_size(frame)
            if not 0 < size <= MAX_RECORD_BYTES:
                raise self._corrupt(f"a section of {size} record bytes")
            records = zstandard.ZstdDecompressor().decompress(
                frame, max_output_size=size, allow_extra_data=False
            )
        except zstandard.ZstdError as exc:
            raise self._corrupt(f"records frame: {exc}") from exc
        if len(records) != size:
            raise self._corrupt("records frame shorter than it says")
        self._lane = LaneReader(self._patch, lane_length, self._dict_log, self._corrupt)
        return RecordReader(records, start), self._lane

    def _settle(self) -> None:
        if self._lane is not None:
            self._offset += self._lane.read_bytes
            self._lane = None

    def finish(self) -> None:
        """After the section holding END: the trailer, then nothing."""
        self._settle()
        length = self._offset
        tail = self._patch.read(_TRAILER.size + 1)
        if len(tail) != _TRAILER.size:
            raise self._corrupt(f"trailer is {len(tail)} bytes, expected {_TRAILER.size}")
        magic, recorded = _TRAILER.unpack(tail)
        if magic != TRAILER_MAGIC or recorded != length:
            raise self._corrupt("trailer does not match the body")
