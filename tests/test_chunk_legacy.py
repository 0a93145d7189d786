"""Indexes made before packs (format 1: no locations) still rebuild an image: the chunked source
asks `/v1/chunks/sha256/<id>` once per missing chunk, which the distributor answers with the
chunk's frame sliced out of its pack. Real distributor on loopback; the index is v2's served
index with its locations stripped, handed to the source by a `ChunkIndexes` of our own."""

from __future__ import annotations

from pathlib import Path

import httpx

from client_fetch.chunk_indexes import ChunkIndexes
from client_fetch.partial_file import PartialFile
from client_fetch.progress import Progress
from client_fetch.sources.base import FetchReport
from client_fetch.sources.chunked_source import DONORS, ChunkedSource
from image_format.chunks import ChunkIndex
from image_format.manifest import ChunkIndexRef
from tests.fixtures.distributor_server import RunningDistributor
from tests.update_helpers import chunk_cost, compressed_size, publish_versions, served_index


class FixedIndexes(ChunkIndexes):
    """The target's index and the donors, as given (no cache, no download)."""

    def __init__(self, target: ChunkIndex, donors: list[tuple[Path, ChunkIndex]]) -> None:
        self._target = target
        self._given = donors

    def get(self, ref: ChunkIndexRef) -> ChunkIndex:
        return self._target

    def donors(self, exclude: str) -> list[tuple[Path, ChunkIndex]]:
        return self._given


def test_a_format_1_index_rebuilds_from_chunk_urls_served_as_pack_slices(
    distributor: RunningDistributor, tmp_path: Path
) -> None:
    published = publish_versions(distributor, tmp_path / "images", "legacy", seed=51)
    v1, v2 = published.manifest(1), published.manifest(2)
    packed = served_index(distributor, v2)
    legacy = ChunkIndex(packed.params, packed.size, packed.spans)
    assert not legacy.packed and ChunkIndex.from_bytes(legacy.to_bytes()) == legacy
    donors = [(published.path(1), ChunkIndex.from_bytes(served_index(distributor, v1).to_bytes()))]
    cost = chunk_cost(distributor, v2, [v1])
    partial = PartialFile(tmp_path / "partial")
    partial.open_for_append(v2.size)
    report = FetchReport()
    with httpx.Client() as client:
        source = ChunkedSource(
            [distributor.url],
            client,
            FixedIndexes(legacy, donors),
            parallel_requests=4,
        )
        estimate = source.estimate(v2, 0)
        assert estimate.bytes_to_move == cost.remote_uncompressed  # no locations: raw bytes
        source.fetch(v2, partial, Progress("legacy", v2.size), report)
    partial.close()
    assert (tmp_path / "partial").read_bytes() == published.path(2).read_bytes()
    per_span = sum(compressed_size(distributor, v2, cid) for cid in cost.missing)
    assert report.bytes_by_source == {
        distributor.url: per_span,
        DONORS: cost.donor_bytes,
    }
    assert report.hash_failures == 0
