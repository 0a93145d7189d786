"""Child-process entry points of `bench.update`, so each of our steps is timed and its peak RSS
read on its own (`wait4`'s `ru_maxrss` in the parent).

    python -m bench.update_worker make OLD NEW PATCH     # make_delta, defaults
    python -m bench.update_worker apply OLD PATCH OUT    # apply_delta
    python -m bench.update_worker chunks OLD NEW         # what a host holding OLD fetches for NEW

Each prints one JSON object on stdout. Not responsible for timing or checking results.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from image_format.chunks import DEFAULT_LEVEL, DEFAULT_PARAMS, ChunkIndex, compress_chunk
from image_format.chunks.chunker import iter_chunks
from image_format.delta import apply_delta, make_delta

GIB = 1 << 30


def make(old: Path, new: Path, patch: Path) -> dict[str, Any]:
    with patch.open("wb") as sink:
        stats = make_delta(old, new, sink)
    return {"patch_bytes": stats.patch_bytes, "blocks": stats.blocks, "seconds": stats.seconds}


def apply(old: Path, patch: Path, out: Path) -> dict[str, Any]:
    with patch.open("rb") as source:
        header = apply_delta(old, source, out)
    return {"new_sha256": header.new_sha256, "allocated_bytes": out.stat().st_blocks * 512}


def chunks(old: Path, new: Path) -> dict[str, Any]:
    """The distributor's default chunking and chunk compression level: v1's index, then v2's
    chunks; the new distinct data chunks are compressed as the distributor stores them."""
    params = DEFAULT_PARAMS
    old_index = ChunkIndex.build(old, params)
    old_ids = old_index.chunk_ids()
    new_ids: set[str] = set()
    all_v2: set[str] = set()
    raw = packed = 0
    new_spans = []
    with new.open("rb") as handle:
        for span, data in iter_chunks(handle, params):
            new_spans.append(span)
            all_v2.add(span.chunk_id)
            if span.is_zero or span.chunk_id in old_ids or span.chunk_id in new_ids:
                continue
            new_ids.add(span.chunk_id)
            raw += span.size
            packed += len(compress_chunk(data, DEFAULT_LEVEL))
    new_index = ChunkIndex.from_spans(new_spans, params)
    return {
        "params": {
            "min": params.min_size,
            "avg": params.avg_size,
            "max": params.max_size,
            "zero_min": params.zero_min_size,
            "normalization": params.normalization,
            "level": DEFAULT_LEVEL,
        },
        "v1_objects": len(old_ids),
        "v2_objects": len(all_v2),
        "v1_entries": len(old_index),
        "new_chunks": len(new_ids),
        "new_raw_bytes": raw,
        "update_bytes": packed,
        "index_bytes": len(new_index.to_bytes()),
        "size": old.stat().st_size,
    }


def main(argv: list[str]) -> int:
    command, *paths = argv
    args = [Path(p) for p in paths]
    if command == "make" and len(args) == 3:
        result = make(*args)
    elif command == "apply" and len(args) == 3:
        result = apply(*args)
    elif command == "chunks" and len(args) == 2:
        result = chunks(*args)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
