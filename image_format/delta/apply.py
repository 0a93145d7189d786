"""Applying a patch: a streamed, sparse rebuild, checked by the base's digest and the result's.

Order: read the header (a patch for another base than the caller's is refused before reading
it); hash the base on a worker thread while the sections are decoded in one sequential pass
(bounded memory: one section's records, one lane decoder of the header's dictionary size, a few
MiB of buffers) into a temp file beside `out_path`, zero runs as holes; refuse a base whose sha256
differs (`DeltaBaseMismatch`, reported in place of any decoding error it caused); compare the
written size and sha256 with the header (`DeltaResultMismatch`); rename over `out_path`.

Not responsible for trusting the header: the caller (the fetcher) checks that the patch is the one
a signed manifest names, and compares the result's digest with the manifest's. Error contract:
`DeltaCorrupt` (with the patch offset), `DeltaUnsupported`, `DeltaBaseMismatch`,
`DeltaResultMismatch`, OSError from the files; on any error nothing is left at `out_path` and no
temp file remains (an existing file at `out_path` is only replaced on success).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import BinaryIO

from image_format.delta.errors import DeltaBaseMismatch, DeltaResultMismatch
from image_format.delta.header import HEADER_SIZE, DeltaHeader, read_header
from image_format.delta.lanes import LaneReader
from image_format.delta.output import SparseOutput
from image_format.delta.records import (
    COPY,
    DELTA,
    END,
    LITERAL,
    MAX_PAYLOAD_BLOCKS,
    SAME,
    ZERO,
    RecordReader,
)
from image_format.delta.runs import read_delta_run
from image_format.delta.sections import SectionReader
from image_format.digest import hash_file

COPY_STEP_BLOCKS = 256


def apply_delta(
    old_path: Path, patch: BinaryIO, out_path: Path, *, expected_old_sha256: str | None = None
) -> DeltaHeader:
    """Rebuild the new image from `old_path` and `patch` (positioned at its start) at `out_path`.

    `expected_old_sha256` is the digest the caller believes `old_path` has: when the patch was
    made from another base this fails at once, without reading `old_path`. Returns the header.
    """
    header = read_header(patch)
    if expected_old_sha256 is not None and expected_old_sha256 != header.old_sha256:
        raise DeltaBaseMismatch(header.old_sha256, expected_old_sha256)
    base = BaseDigest(old_path)
    output = SparseOutput(out_path, header.new_size)
    try:
        try:
            with old_path.open("rb") as old_file:
                _Decoder(header, old_file.fileno(), output).run(
                    SectionReader(patch, HEADER_SIZE, header.window_log)
                )
            digest = output.finish()
        finally:  # a damaged base explains whatever else went wrong: it is the error to report
            base.check(header.old_sha256)
        if digest != header.new_sha256 or output.position != header.new_size:
            raise DeltaResultMismatch(header.new_sha256, digest, header.new_size, output.position)
        output.commit()
    except BaseException:
        output.discard()
        raise
    return header


class BaseDigest:
    """The base's sha256, computed on a worker thread while the patch is decoded (hashlib and
    file reads release the GIL): on two cores apply then takes about as long as hashing the base
    alone. `check` waits for it."""

    def __init__(self, path: Path) -> None:
        self._digest = ""
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(path,), name="base-sha256")
        self._thread.start()

    def _run(self, path: Path) -> None:
        try:
            self._digest, _size = hash_file(path)
        except BaseException as exc:  # handed to `check`, in the caller's thread
            self._error = exc

    def check(self, expected: str) -> None:
        """Raise `DeltaBaseMismatch` unless the base hashes to `expected` (OSError as is)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        if self._digest != expected:
            raise DeltaBaseMismatch(expected, self._digest)


class _Decoder:
    """Executes records in order, section after section, until END."""

    def __init__(self, header: DeltaHeader, old_fd: int, output: SparseOutput) -> None:
        self._bs = header.block_size
        self._new_blocks = -(-header.new_size // self._bs)
        self._old_blocks = -(-header.old_size // self._bs)
        self._old_fd = old_fd
        self._output = output
        self._number = 0

    def run(self, sections: SectionReader) -> None:
        ended = False
        while not ended:
            reader, lane = sections.next()
            if reader.at_end:
                raise reader.corrupt("a section without records")
            while not reader.at_end:
                if ended:
                    raise reader.corrupt("records after END")
                ended = self._record(reader, lane)
            lane.finish()
        sections.finish()

    def _record(self, reader: RecordReader, lane: LaneReader) -> bool:
        """Execute one record; True for END."""
        bs, number = self._bs, self._number
        op = reader.read_op()
        src = reader.read_varint() if op == COPY else 0
        count = reader.read_varint()
        if op == END:
            if count != self._new_blocks or number != self._new_blocks:
                raise reader.corrupt(f"END after {number} of {self._new_blocks} blocks")
            return True
        if count == 0 or number + count > self._new_blocks:
            raise reader.corrupt(f"a run of {count} blocks at block {number} overflows the image")
        if op == COPY and src + count > self._old_blocks:
            raise reader.corrupt(f"a run reads old blocks {src}+{count} of {self._old_blocks}")
        if op in (LITERAL, DELTA) and count > MAX_PAYLOAD_BLOCKS:
            raise reader.corrupt(f"a payload run of {count} blocks exceeds the limit")
        output = self._output
        if op == ZERO:
            output.skip(count * bs)
        elif op in (SAME, COPY):
            first = number if op == SAME else src
            for step in range(0, count, COPY_STEP_BLOCKS):
                blocks = min(COPY_STEP_BLOCKS, count - step)
                output.write(_read_old(self._old_fd, (first + step) * bs, blocks * bs))
        elif op == LITERAL:
            output.write(lane.read(count * bs))
        else:
            output.write(read_delta_run(reader, self._old_fd, bs, self._old_blocks, count))
        self._number = number + count
        return False


def _read_old(fd: int, offset: int, size: int) -> bytes:
    """`size` bytes of OLD from `offset`, zero-padded past its end."""
    data = os.pread(fd, size, offset)
    while len(data) < size:
        more = os.pread(fd, size - len(data), offset + len(data))
        if not more:
            return data + bytes(size - len(data))
        data += more
    return data
