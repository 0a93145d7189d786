"""Measure chunking parameters on an image pair: update bytes against objects per GiB.

For each parameter set: chunk v1 and v2; *update bytes* = the sum of the zstd-compressed sizes
of the distinct chunks of v2 whose ids v1 does not have (what a host holding v1 fetches: with
packs, v2's new chunks are one contiguous run of v2's packs, so the Range requests move exactly
this); *chunks/GiB* = distinct chunk ids of v1 (zero chunks included) per GiB of image (the
objects a mirror would hold with one file per chunk; with packs it holds a few packs instead);
*v2 index MB* = the size of v2's packed (format 2) index; the chunker's throughput on v1.
casync's numbers come from `casync make` into a store (see docs/chunking.md).

Not responsible for building the pair (`bench.chunk_pair`). Usage:
`python -m bench.chunk_params DIR [--level N] [--set MIN/AVG/MAX[/ZMIN[/NORM]] ...]` with sizes
in KiB; prints a markdown table.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from image_format.chunks import ChunkIndex, ChunkLocation, ChunkParams, compress_chunk, iter_chunks

KIB = 1024
GIB = 1 << 30
DEFAULT_SETS = [
    "4/8/32/4/0",
    "4/16/64",
    "16/64/256",
    "32/128/512",
    "64/256/1024",
    "128/512/2048",
    "16/128/512",
    "32/128/512/64/0",
    "32/128/512/64/2",
    "64/256/1024/16",
    "64/256/1024/256",
]


def parse_set(text: str) -> ChunkParams:
    fields = [int(part) * KIB for part in text.split("/")]
    lo, avg, hi = fields[:3]
    zmin = fields[3] if len(fields) > 3 else lo
    norm = fields[4] // KIB if len(fields) > 4 else 1
    return ChunkParams(lo, avg, hi, zmin, norm)


def measure(v1: Path, v2: Path, params: ChunkParams, level: int) -> dict[str, float]:
    started = time.perf_counter()
    old: set[str] = set()
    with v1.open("rb") as handle:
        for span, _data in iter_chunks(handle, params):
            old.add(span.chunk_id)
    seconds = time.perf_counter() - started
    new: set[str] = set()
    raw = packed = 0
    v2_chunks = 0
    spans = []
    with v2.open("rb") as handle:
        for span, data in iter_chunks(handle, params):
            v2_chunks += 1
            spans.append(span)
            if span.chunk_id in old or span.chunk_id in new or span.is_zero:
                continue
            new.add(span.chunk_id)
            raw += span.size
            packed += len(compress_chunk(data, level))
    size_gib = v1.stat().st_size / GIB
    somewhere = ChunkLocation("0" * 64, 0, 1)  # the index's size does not depend on the values
    index = ChunkIndex.from_spans(spans, params, [None if s.is_zero else somewhere for s in spans])
    return {
        "index_mb": len(index.to_bytes()) / 1e6,
        "objects_per_gib": len(old) / size_gib,
        "new_chunks": len(new),
        "raw_mb": raw / 1e6,
        "update_mb": packed / 1e6,
        "mb_per_s": v1.stat().st_size / seconds / 1e6,
        "v2_chunks": v2_chunks,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dir", type=Path)
    parser.add_argument("--level", type=int, default=3)
    parser.add_argument("--set", action="append", dest="sets")
    args = parser.parse_args()
    v1, v2 = args.dir / "v1.img", args.dir / "v2.img"
    print(f"zstd level {args.level}")
    print(
        "| min/avg/max KiB | zero-min KiB | norm | chunks/GiB | new chunks | new raw MB "
        "| update MB | v2 index MB | chunker MB/s |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for text in args.sets or DEFAULT_SETS:
        p = parse_set(text)
        r = measure(v1, v2, p, args.level)
        print(
            f"| {p.min_size // KIB}/{p.avg_size // KIB}/{p.max_size // KIB} "
            f"| {p.zero_min_size // KIB} | {p.normalization} | {r['objects_per_gib']:.0f} "
            f"| {r['new_chunks']:.0f} | {r['raw_mb']:.1f} | {r['update_mb']:.1f} "
            f"| {r['index_mb']:.2f} | {r['mb_per_s']:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
