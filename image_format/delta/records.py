"""The patch body: operation records and their payloads inside one zstd frame, then a trailer.

Records (decompressed bytes): an opcode byte, unsigned LEB128 varints, then a payload: LITERAL
carries `count * block_size` bytes; DELTA carries one inner zstd frame (its length is a field)
that decompresses to `count * block_size` bytes with a run of OLD blocks as raw-content
dictionary. Runs are merged: `count` consecutive blocks of the new image; COPY names the first
old block and advances by one per block. After the frame: `VIDDEND1` and the u64 length of
header + frame, so a cut anywhere is noticed.

Not responsible for choosing operations (`make`) nor for executing them (`apply`). Error contract:
`RecordReader` raises `DeltaCorrupt` (with the patch offset) for undecodable, truncated or
trailing data; `RecordWriter` lets the sink's OSError through.
"""

from __future__ import annotations

import struct
from typing import Any, BinaryIO, Protocol, cast

import zstandard

from image_format.delta.errors import DeltaCorrupt

END, ZERO, SAME, COPY, LITERAL, DELTA = range(6)
OP_NAMES = ("end", "zero", "same", "copy", "literal", "delta")
MAX_PAYLOAD_BLOCKS = 256
TRAILER_MAGIC = b"VIDDEND1"
_TRAILER = struct.Struct(">8sQ")
_FEED_BYTES = 4096  # compressed bytes fed per step: bounds the output of one step


def varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


class ByteSink(Protocol):
    """Where a patch is written: anything with `write(bytes)` (a file, a blob writer)."""

    def write(self, data: bytes, /) -> object: ...


class CountingWriter:
    """Passes writes to `sink` and counts the bytes."""

    def __init__(self, sink: ByteSink) -> None:
        self._sink = sink
        self.count = 0

    def write(self, data: bytes | memoryview) -> int:
        self._sink.write(bytes(data) if isinstance(data, memoryview) else data)
        self.count += len(data)
        return len(data)

    def flush(self) -> None:
        flush = getattr(self._sink, "flush", None)
        if flush is not None:
            flush()


class RecordWriter:
    """Merges per-block operations into runs and writes them through one zstd compressor."""

    def __init__(self, sink: CountingWriter, params: Any) -> None:
        """`sink` has already received the header (its count includes it)."""
        self._sink = sink
        compressor = zstandard.ZstdCompressor(compression_params=params)
        self._zw = compressor.stream_writer(
            cast(BinaryIO, sink), closefd=False, write_return_read=True
        )
        self._op = -1
        self._src = 0
        self._count = 0
        self._payload: list[bytes] = []
        self.blocks_by_op = [0] * len(OP_NAMES)

    def add(self, op: int, src: int = 0, payload: bytes | None = None) -> None:
        """One new block: `op` from old block `src` (COPY) or with its payload (LITERAL)."""
        self.blocks_by_op[op] += 1
        if (
            op == self._op
            and (op != COPY or src == self._src + self._count)
            and (payload is None or self._count < MAX_PAYLOAD_BLOCKS)
        ):
            self._count += 1
        else:
            self._emit()
            self._op, self._src, self._count = op, src, 1
        if payload is not None:
            self._payload.append(payload)

    def add_run(self, op: int, count: int) -> None:
        """`count` blocks of ZERO or SAME at once."""
        if count <= 0:
            return
        self.blocks_by_op[op] += count
        if op == self._op:
            self._count += count
        else:
            self._emit()
            self._op, self._src, self._count = op, 0, count

    def _emit(self) -> None:
        if self._count == 0:
            return
        head = bytes((self._op,))
        if self._op == COPY:
            head += varint(self._src)
        self._zw.write(head + varint(self._count))
        for block in self._payload:
            self._zw.write(block)
        self._payload.clear()
        self._count = 0

    def add_delta(self, count: int, ref_start: int, ref_count: int, frame: bytes) -> None:
        """`count` new blocks as one inner frame made against OLD blocks `ref_start` on."""
        self._emit()
        self._op = -1
        self.blocks_by_op[DELTA] += count
        fields = varint(count) + varint(ref_start) + varint(ref_count) + varint(len(frame))
        self._zw.write(bytes((DELTA,)) + fields)
        self._zw.write(frame)

    def finish(self, block_count: int) -> int:
        """Write END, close the frame, write the trailer; returns the patch's length in bytes."""
        self._emit()
        self._zw.write(bytes((END,)) + varint(block_count))
        self._zw.flush(zstandard.FLUSH_FRAME)
        self._sink.write(_TRAILER.pack(TRAILER_MAGIC, self._sink.count))
        return self._sink.count


class RecordReader:
    """Reads records from a patch positioned just after its header, with bounded memory."""

    def __init__(self, patch: BinaryIO, header_size: int) -> None:
        self._patch = patch
        self._consumed = header_size  # patch bytes handed to the decompressor so far
        self._dobj = zstandard.ZstdDecompressor().decompressobj()
        self._buf = bytearray()
        self._pos = 0
        self._frame_done = False
        self._tail = b""

    @property
    def offset(self) -> int:
        return self._consumed

    def corrupt(self, reason: str) -> DeltaCorrupt:
        return DeltaCorrupt(self._consumed, reason)

    def _refill(self) -> None:
        if self._frame_done:
            raise self.corrupt("the compressed body ends before its END record")
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
        self._feed()

    def _feed(self) -> None:
        chunk = self._patch.read(_FEED_BYTES)
        if not chunk:
            raise self.corrupt("patch is truncated inside its compressed body")
        self._consumed += len(chunk)
        try:
            self._buf += self._dobj.decompress(chunk)
        except zstandard.ZstdError as exc:
            raise self.corrupt(f"compressed body: {exc}") from exc
        if self._dobj.eof:
            self._frame_done = True
            self._tail = self._dobj.unused_data
            self._consumed -= len(self._tail)

    def read_exact(self, size: int) -> bytes:
        while len(self._buf) - self._pos < size:
            self._refill()
        data = bytes(self._buf[self._pos : self._pos + size])
        self._pos += size
        return data

    def read_varint(self) -> int:
        value = shift = 0
        while True:
            while self._pos >= len(self._buf):
                self._refill()
            byte = self._buf[self._pos]
            self._pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value
            shift += 7
            if shift > 63:
                raise self.corrupt("varint longer than 64 bits")

    def read_op(self) -> int:
        op = self.read_exact(1)[0]
        if op >= len(OP_NAMES):
            raise self.corrupt(f"unknown opcode {op}")
        return op

    def finish(self) -> None:
        """After END: the frame must end here and the trailer must follow, then nothing."""
        while not self._frame_done and len(self._buf) == self._pos:
            self._feed()
        if len(self._buf) > self._pos:
            raise self.corrupt("data after the END record")
        need = _TRAILER.size + 1 - len(self._tail)
        tail = self._tail + (self._patch.read(need) if need > 0 else b"")
        if len(tail) != _TRAILER.size:
            raise self.corrupt(f"trailer is {len(tail)} bytes, expected {_TRAILER.size}")
        magic, length = _TRAILER.unpack(tail)
        if magic != TRAILER_MAGIC or length != self._consumed:
            raise self.corrupt("trailer does not match the body")
