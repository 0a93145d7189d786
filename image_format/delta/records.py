"""Operation records: what each run of NEW blocks is, encoded as opcode bytes and varints.

A record is an opcode byte and unsigned LEB128 varints; DELTA also carries one inner zstd frame
(its length is a field). LITERAL carries no payload here: its `count * block_size` bytes are
the next bytes of its section's literal lane. Runs are merged: `count` consecutive blocks of
the new image; COPY names the first old block and advances by one per block.

Not responsible for choosing operations (`diff`), for framing records into sections
(`sections`) nor for executing them (`apply`). Error contract: `RecordReader` raises
`DeltaCorrupt` (with the patch offset of its section) for undecodable or truncated records;
`RecordWriter` lets the sections' errors through.
"""

from __future__ import annotations

from typing import Protocol

from image_format.delta.errors import DeltaCorrupt

END, ZERO, SAME, COPY, LITERAL, DELTA = range(6)
OP_NAMES = ("end", "zero", "same", "copy", "literal", "delta")
MAX_PAYLOAD_BLOCKS = 256  # blocks of one LITERAL or DELTA run ...
MAX_PAYLOAD_BYTES = 1 << 20  # ... and its bytes, whatever the block size
MAX_REF_BLOCKS = 1024  # blocks of one DELTA reference ...
MAX_REF_BYTES = 4 << 20  # ... and its bytes


def payload_limit(block_size: int) -> int:
    """The most blocks a LITERAL or DELTA run may hold at `block_size` (at least 1): apply
    holds a run's bytes at once, so the limit is in bytes as well as blocks."""
    return max(1, min(MAX_PAYLOAD_BLOCKS, MAX_PAYLOAD_BYTES // block_size))


def reference_limit(block_size: int) -> int:
    """The most OLD blocks a DELTA reference may name at `block_size` (at least 1)."""
    return max(1, min(MAX_REF_BLOCKS, MAX_REF_BYTES // block_size))


def varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


class RecordSink(Protocol):
    """Where records go: one record at a time, with a LITERAL's lane bytes (sections)."""

    def record(self, data: bytes, literal: bytes = b"", /) -> None: ...


class RecordWriter:
    """Merges per-block operations into runs and hands them to a `RecordSink`."""

    def __init__(self, sink: RecordSink) -> None:
        self._sink = sink
        self._op = -1
        self._src = 0
        self._count = 0
        self.blocks_by_op = [0] * len(OP_NAMES)

    def add(self, op: int, src: int = 0) -> None:
        """One new block: `op` (ZERO, SAME, or COPY from old block `src`)."""
        self.blocks_by_op[op] += 1
        if op == self._op and (op != COPY or src == self._src + self._count):
            self._count += 1
        else:
            self._emit()
            self._op, self._src, self._count = op, src, 1

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
        self._sink.record(head + varint(self._count))
        self._count = 0
        self._op = -1

    def add_literal(self, count: int, data: bytes) -> None:
        """`count` new blocks whose bytes (`data`) go to the literal lane."""
        self._emit()
        self.blocks_by_op[LITERAL] += count
        self._sink.record(bytes((LITERAL,)) + varint(count), data)

    def add_delta(self, count: int, ref_start: int, ref_count: int, frame: bytes) -> None:
        """`count` new blocks as one inner frame made against OLD blocks `ref_start` on."""
        self._emit()
        self.blocks_by_op[DELTA] += count
        fields = varint(count) + varint(ref_start) + varint(ref_count) + varint(len(frame))
        self._sink.record(bytes((DELTA,)) + fields + frame)

    def finish(self, block_count: int) -> None:
        """Write the pending run and END."""
        self._emit()
        self._sink.record(bytes((END,)) + varint(block_count))


class RecordReader:
    """Reads the records of one section from its decompressed bytes."""

    def __init__(self, data: bytes, offset: int) -> None:
        self._data = data
        self._pos = 0
        self.offset = offset  # the patch offset of the section, for errors

    def corrupt(self, reason: str) -> DeltaCorrupt:
        return DeltaCorrupt(self.offset, reason)

    @property
    def at_end(self) -> bool:
        return self._pos == len(self._data)

    def read_exact(self, size: int) -> bytes:
        end = self._pos + size
        if end > len(self._data):
            raise self.corrupt("a record runs past the end of its section")
        data = self._data[self._pos : end]
        self._pos = end
        return data

    def read_varint(self) -> int:
        value = shift = 0
        data = self._data
        while True:
            if self._pos >= len(data):
                raise self.corrupt("a record runs past the end of its section")
            byte = data[self._pos]
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
