"""Pass 2 of making a patch: choose the operation for each block of NEW, in order.

A block is ZERO, SAME (OLD's block at the same number), or COPY (the OLD block the previous
match predicts, else any OLD block with the same hash, bytes compared). Blocks that match nothing
collect into a run (contiguous, at most `records.payload_limit` blocks). A run is a DELTA when
OLD explains it well: a zstd frame made with the OLD blocks around where the run is predicted to
come from (the old version of a changed file sits right after the last block copied from it;
without a prediction, the OLD blocks at the same place; at most `records.reference_limit`
blocks) as raw-content dictionary, kept when it is at most 1/`DELTA_ADVANTAGE` of the run
compressed alone (both first tried at low levels). Every other run is LITERAL: its bytes go to
the literal lane, one long zstd frame per section (new content compresses far better there than
in small independent frames).

Not responsible for reading NEW or writing the patch. No errors of its own (OSError passes).
"""

from __future__ import annotations

import os

import zstandard

from image_format.delta.index import BlockIndex, block_hash
from image_format.delta.records import (
    COPY,
    SAME,
    ZERO,
    RecordWriter,
    payload_limit,
    reference_limit,
)

REF_BEFORE_BLOCKS = 4
REF_AFTER_BLOCKS = 8
DELTA_ADVANTAGE = 3  # a DELTA frame must be this many times smaller than the run alone
PROBE_LEVEL = 1  # zstd level of the run-alone estimate
DELTA_PROBE_LEVEL = 3  # zstd level of the first DELTA try (the kept frame uses `level`)


class OldBlocks:
    """Random access to OLD's blocks, zero-padded past its end."""

    def __init__(self, fd: int, size: int, block_size: int) -> None:
        self.fd = fd
        self.block_size = block_size
        self.blocks = -(-size // block_size)

    def read(self, number: int, count: int = 1) -> bytes:
        size = count * self.block_size
        data = os.pread(self.fd, size, number * self.block_size)
        return data if len(data) == size else data + bytes(size - len(data))


class Differ:
    """Feeds one NEW block at a time (in order) to a `RecordWriter`."""

    def __init__(self, old: OldBlocks, index: BlockIndex, writer: RecordWriter, level: int) -> None:
        self._old = old
        self._index = index
        self._writer = writer
        self._level = level
        self._run_limit = payload_limit(old.block_size)
        self._ref_limit = reference_limit(old.block_size)
        self._predicted = -1  # the OLD block the last match suggests for the next NEW block
        self._run: list[bytes] = []
        self._run_first_prediction = -1

    def zero(self, count: int) -> None:
        self.flush()
        self._writer.add_run(ZERO, count)

    def same(self, number: int, count: int) -> None:
        self.flush()
        self._writer.add_run(SAME, count)
        self._predicted = number + count

    def other(self, block: bytes, number: int) -> None:
        """Block `number`: neither zero nor the same as OLD's at its number."""
        predicted = self._predicted
        if 0 <= predicted < self._old.blocks and self._old.read(predicted) == block:
            self._copy(predicted)
            return
        found = self._index.get(block_hash(block))
        if found is not None and self._old.read(found) == block:
            self._copy(found)
            return
        if not self._run:
            if not 0 <= predicted < self._old.blocks:  # no match yet: OLD at the same place
                predicted = number if number < self._old.blocks else -1
            self._run_first_prediction = predicted
        self._run.append(block)
        self._predicted = predicted + 1 if predicted >= 0 else -1
        if len(self._run) >= self._run_limit:
            self.flush()

    def _copy(self, source: int) -> None:
        self.flush()
        self._writer.add(COPY, source)
        self._predicted = source + 1

    def flush(self) -> None:
        """Write the pending run of unmatched blocks, if any."""
        if not self._run:
            return
        run, first = self._run, self._run_first_prediction
        self._run = []
        data = b"".join(run)
        if first >= 0:
            limit = self._ref_limit  # large blocks: fewer blocks before the prediction
            start = max(0, first - min(REF_BEFORE_BLOCKS, max(0, limit - len(run)) // 3))
            end = min(self._old.blocks, first + len(run) + REF_AFTER_BLOCKS, start + limit)
            reference = self._old.read(start, end - start)
            probe = self._delta_frame(data, reference, min(self._level, DELTA_PROBE_LEVEL))
            alone = len(zstandard.ZstdCompressor(level=PROBE_LEVEL).compress(data))
            if len(probe) * DELTA_ADVANTAGE <= alone:
                frame = self._delta_frame(data, reference, self._level)
                self._writer.add_delta(len(run), start, end - start, min(probe, frame, key=len))
                return
        self._writer.add_literal(len(run), data)

    @staticmethod
    def _delta_frame(data: bytes, reference: bytes, level: int) -> bytes:
        params = zstandard.ZstdCompressionParameters.from_level(
            level,
            source_size=len(data) + len(reference),
            write_checksum=False,
            write_content_size=True,
            write_dict_id=False,
        )
        dictionary = zstandard.ZstdCompressionDict(
            reference, dict_type=zstandard.DICT_TYPE_RAWCONTENT
        )
        compressor = zstandard.ZstdCompressor(dict_data=dictionary, compression_params=params)
        return compressor.compress(data)
