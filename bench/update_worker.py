"""Child-process entry points of `bench.update`, so each of our steps is timed and its peak RSS
read on its own (`wait4`'s `ru_maxrss` in the parent).

    python -m bench.update_worker make OLD NEW PATCH     # make_delta, defaults
    python -m bench.update_worker apply OLD PATCH OUT    # apply_delta
    python -m bench.update_worker chunks OLD NEW WORK    # what a host holding OLD fetches for NEW

`chunks` publishes OLD then NEW with the distributor's own chunk step (default settings) into a
pack store under WORK, plans what a host holding OLD fetches for NEW with the fetcher's own range
planner (OLD as the donor), rebuilds NEW from the donor and those ranges read from the pack files
(every chunk verified), then again as a host with no donors would (every data chunk by Range
requests), and reports the bytes the ranges hold (gaps included), the requests, and the objects
the server stores for OLD (packs + the index blob). Each prints one JSON object on
stdout. Not responsible for timing or checking results beyond the rebuilt file's sha256.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from client_fetch.chunkstores.composites import RouterStore
from client_fetch.chunkstores.donors import DonorStore
from client_fetch.chunkstores.pack_mirror import PackMirror
from client_fetch.chunkstores.pack_ranges import PackRangeStore
from client_fetch.sources.chunked_source import plan_pack_ranges
from distributor.chunks.pack_store import PackStore
from distributor.chunks.publish_step import ChunkPublishStep
from distributor.settings import DistributorSettings
from distributor.storage.blob_store import LocalBlobStore
from image_format.chunks import ChunkIndex, assemble
from image_format.delta import apply_delta, make_delta
from image_format.digest import hash_file

GIB = 1 << 30


def make(old: Path, new: Path, patch: Path) -> dict[str, Any]:
    with patch.open("wb") as sink:
        stats = make_delta(old, new, sink)
    return {"patch_bytes": stats.patch_bytes, "blocks": stats.blocks, "seconds": stats.seconds}


def apply(old: Path, patch: Path, out: Path) -> dict[str, Any]:
    with patch.open("rb") as source:
        header = apply_delta(old, source, out)
    return {"new_sha256": header.new_sha256, "allocated_bytes": out.stat().st_blocks * 512}


class _FileMirror(PackMirror):
    """A mirror that reads the pack files on disk (what a Range request would return)."""

    def __init__(self, packs: PackStore) -> None:
        super().__init__("file://packs", httpx.Client())
        self._packs = packs

    def read(self, pack: str, start: int, end: int) -> bytes:
        with self._packs.path(pack).open("rb") as handle:
            handle.seek(start)
            body = handle.read(end - start)
        self.bytes_moved += len(body)
        self.requests += 1
        return body


def chunks(old: Path, new: Path, work: Path) -> dict[str, Any]:
    """The distributor's default chunking, level and pack size; see the module doc."""
    settings = DistributorSettings(data_dir=work)
    packs, blobs = PackStore(work / "packs"), LocalBlobStore(work / "blobs")
    step = ChunkPublishStep(
        packs,
        blobs,
        params=settings.chunk_params,
        level=settings.chunk_zstd_level,
        pack_bytes=settings.chunk_pack_bytes,
    )
    first = step.chunk_blob(old)
    v1_packs = set(first.index.packs())
    v1_pack_bytes = sum(packs.path(d).stat().st_size for d in v1_packs)
    second = step.chunk_blob(new)
    target = second.index
    donors = DonorStore.for_target(target, [(old, first.index)])
    warm = _rebuild(target, donors, packs, work / "rebuilt.img")
    cold = _rebuild(target, DonorStore.for_target(target, []), packs, work / "rebuilt-cold.img")
    p = settings.chunk_params
    return {
        "params": {
            "min": p.min_size,
            "avg": p.avg_size,
            "max": p.max_size,
            "zero_min": p.zero_min_size,
            "normalization": p.normalization,
            "level": settings.chunk_zstd_level,
            "pack_bytes": settings.chunk_pack_bytes,
        },
        "v1_objects": len(v1_packs) + 1,  # its packs and its index blob
        "v1_packs": len(v1_packs),
        "v1_pack_bytes": v1_pack_bytes,
        "v1_chunks": len(first.index.chunk_ids()),
        "v1_entries": len(first.index),
        "v1_publish_s": first.seconds,
        "v2_publish_s": second.seconds,
        "new_chunks": second.chunks_written,
        "new_pack_bytes": second.bytes_written,
        "v2_packs_written": second.packs_written,
        "update_bytes": warm["bytes"],
        "range_requests": warm["requests"],
        "gap_bytes": warm["gap_bytes"],
        "index_bytes": second.ref.size,
        "donor_bytes": donors.bytes_read,
        "rebuild_s": warm["seconds"],
        "rebuilt_sha256": warm["sha256"],
        "cold_bytes": cold["bytes"],
        "cold_requests": cold["requests"],
        "cold_rebuild_s": cold["seconds"],
        "cold_rebuilt_sha256": cold["sha256"],
        "data_chunk_bytes": second.ref.data_chunk_bytes,
        "size": old.stat().st_size,
        "new_size": new.stat().st_size,
    }


def _rebuild(target: ChunkIndex, donors: DonorStore, packs: PackStore, out: Path) -> dict[str, Any]:
    """Rebuild `target` at `out` from `donors` and the Range requests the fetcher would make for
    the rest (read from the pack files); what moved, how long it took, the result's sha256."""
    ranges, uses = plan_pack_ranges(target, target.spans, donors)
    locations = {span.chunk_id: location for span, location in target.located_spans()}
    mirror = _FileMirror(packs)
    started = time.perf_counter()
    with PackRangeStore([mirror], ranges, locations, uses, read_ahead=8) as remote:
        router = RouterStore([donors, remote])
        assemble(target, lambda span: router.get(span.chunk_id, span.size), out)
    seconds = time.perf_counter() - started
    sha256, _ = hash_file(out)
    out.unlink()
    return {
        "bytes": mirror.bytes_moved,
        "requests": mirror.requests,
        "gap_bytes": sum(r.waste for r in ranges),
        "seconds": seconds,
        "sha256": sha256,
    }


def main(argv: list[str]) -> int:
    command, *paths = argv
    args = [Path(p) for p in paths]
    if command == "make" and len(args) == 3:
        result = make(*args)
    elif command == "apply" and len(args) == 3:
        result = apply(*args)
    elif command == "chunks" and len(args) == 3:
        result = chunks(*args)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
