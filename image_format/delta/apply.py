"""Applying a patch: a streamed, sparse rebuild, checked by the base's digest and the result's.

Order: read the header (a patch for another base than the caller's is refused before reading
it); hash the base on a worker thread while the sections are decoded in one sequential pass
(bounded memory: one section's records, one lane decoder of the header's dictionary size, a few
MiB of buffers) into a temp file beside `out_path`, zero runs as holes; refuse a base whose sha256
differs (`DeltaBaseMismatch`, reported in place of any decoding error it caused); compare the
written size and sha256 with the header (`DeltaResultMismatch`); rename over `out_path`.

Memory is bounded whatever the header says: payload runs and DELTA references are limited in
bytes as well as blocks (`records.payload_limit`, `records.reference_limit`), and SAME/COPY runs
are read `COPY_STEP_BYTES` at a time. The header's OLD size must be the base file's (else
`DeltaCorrupt`, or `DeltaBaseMismatch` when the base is not the one named), so the OLD offsets
records ask for are real ones.

Not responsible for trusting the header: the caller (the fetcher) checks that the patch is the one
a signed manifest names, and compares the result's digest with the manifest's; it may pass the
size and digest it expects so a patch promising anything else is refused before any decoding.
Error contract: `DeltaCorrupt` (with the patch offset; also for any zstd error while decoding),
`DeltaUnsupported`, `DeltaBaseMismatch`, `DeltaTargetMismatch`, `DeltaResultMismatch`, OSError
from the files; on any error nothing is left at `out_path` and no temp file remains (an existing
file at `out_path` is only replaced on success).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import BinaryIO

import zstandard

from image_format.delta.errors import (
    DeltaBaseMismatch,
    DeltaCorrupt,
    DeltaResultMismatch,
    DeltaTargetMismatch,
)
from image_format.delta.header import HEADER_SIZE, DeltaHeader, read_header
from image_format.delta.lanes import LaneReader
from image_format.delta.output import SparseOutput
from image_format.delta.records import (
    COPY,
    DELTA,
    END,
    LITERAL,
    SAME,
    ZERO,
    RecordReader,
    payload_limit,
)
from image_format.delta.runs import read_delta_run
from image_format.delta.sections import SectionReader
from image_format.digest import hash_file

COPY_STEP_BYTES = 1 << 20


def apply_delta(
    old_path: Path,
    patch: BinaryIO,
    out_path: Path,
    *,
    expected_old_sha256: str | None = None,
    expected_new_sha256: str | None = None,
    expected_new_size: int | None = None,
) -> DeltaHeader:
    """Rebuild the new image from `old_path` and `patch` (positioned at its start) at `out_path`.

    `expected_old_sha256` is the digest the caller believes `old_path` has: when the patch was
    made from another base this fails at once, without reading `old_path`
    (`DeltaBaseMismatch`). `expected_new_sha256` / `expected_new_size` are what the caller wants
    made (say, from a signed manifest): a header promising anything else fails at once too
    (`DeltaTargetMismatch`), before the base is read or anything decoded. Returns the header.
    """
    header = read_header(patch)
    if expected_old_sha256 is not None and expected_old_sha256 != header.old_sha256:
        raise DeltaBaseMismatch(header.old_sha256, expected_old_sha256)
    _check_target(header, expected_new_sha256, expected_new_size)
    base = BaseDigest(old_path)
    output = SparseOutput(out_path, header.new_size)
    try:
        try:
            with old_path.open("rb") as old_file:
                _check_base_size(header, os.fstat(old_file.fileno()).st_size)
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


def _check_target(header: DeltaHeader, sha256: str | None, size: int | None) -> None:
    """Raise `DeltaTargetMismatch` when the header promises another result than expected."""
    if (sha256 is not None and sha256 != header.new_sha256) or (
        size is not None and size != header.new_size
    ):
        raise DeltaTargetMismatch(
            header.new_sha256 if sha256 is None else sha256,
            header.new_sha256,
            header.new_size if size is None else size,
            header.new_size,
        )


def _check_base_size(header: DeltaHeader, size: int) -> None:
    """`DeltaCorrupt` unless the base has the size the header says (its digest is checked too)."""
    if size != header.old_size:
        raise DeltaCorrupt(0, f"the header's base has {header.old_size} bytes, the base {size}")


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
        self._payload_limit = payload_limit(header.block_size)
        self._copy_step = max(1, COPY_STEP_BYTES // header.block_size)
        self._new_blocks = -(-header.new_size // self._bs)
        self._old_size = header.old_size
        self._old_blocks = -(-header.old_size // self._bs)
        self._old_fd = old_fd
        self._output = output
        self._number = 0

    def run(self, sections: SectionReader) -> None:
        """Decode every section; a zstd error any part lets through is `DeltaCorrupt`."""
        try:
            self._run(sections)
        except zstandard.ZstdError as exc:
            raise DeltaCorrupt(sections.offset, f"zstd: {exc}") from exc

    def _run(self, sections: SectionReader) -> None:
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
        if op in (LITERAL, DELTA) and count > self._payload_limit:
            raise reader.corrupt(f"a payload run of {count} blocks exceeds the limit")
        output = self._output
        if op == ZERO:
            output.skip(count * bs)
        elif op in (SAME, COPY):
            first = number if op == SAME else src
            for step in range(0, count, self._copy_step):
                blocks = min(self._copy_step, count - step)
                offset = (first + step) * bs
                output.write(_read_old(self._old_fd, offset, blocks * bs, self._old_size))
        elif op == LITERAL:
            output.write(lane.read(count * bs))
        else:
            output.write(read_delta_run(reader, self._old_fd, bs, self._old_blocks, count))
        self._number = number + count
        return False


def _read_old(fd: int, offset: int, size: int, old_size: int) -> bytes:
    """`size` bytes of OLD (`old_size` bytes long) from `offset`, zero-padded past its end."""
    wanted = max(0, min(size, old_size - offset))
    data = b""
    while len(data) < wanted:
        more = os.pread(fd, wanted - len(data), offset + len(data))
        if not more:
            break
        data += more
    return data + bytes(size - len(data))
