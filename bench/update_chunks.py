"""The chunk rows of `bench.update`: ours (the distributor's chunk step into packs, the
fetcher's range planner, v2 rebuilt and checked; `bench.update_worker chunks`) and `casync make`
at 16 and 64 KiB into one store, then the chunk table, the two chunk goals of issue 4 and a
legend line. Not responsible for running processes or the pair (`bench.update`). Error contract:
`BenchError` when v2 rebuilt from chunks is not v2.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.harness import MIB, BenchError, markdown_table, remove

if TYPE_CHECKING:
    from bench.update import Context

OBJECTS_FEWER_GOAL = 8.0  # casync-16k objects per GiB ÷ ours


def mb(count: int) -> str:
    return f"{count / 1e6:.1f}"


def mib(count: int) -> str:
    return f"{count / MIB:.0f}"


@dataclass(frozen=True)
class ChunkResult:
    method: str
    update_bytes: int
    new_chunks: int
    v1_objects: int
    index_bytes: int
    seconds: float
    max_rss: int
    loads: list[float]
    detail: dict[str, Any] = field(default_factory=dict)
    requests: int = 0  # HTTP requests a v1 host makes for v2's chunks (the index excluded)


def chunks_ours(ctx: Context) -> ChunkResult:
    work = ctx.work / "chunks-ours"
    remove(work)
    done, result = ctx.worker("chunks", ctx.pair.v1, ctx.pair.v2, work)
    remove(work)
    for key in ("rebuilt_sha256", "cold_rebuilt_sha256"):
        if result[key] != ctx.v2_sha256:
            raise BenchError(f"v2 rebuilt from chunks ({key}) has sha256 {result[key]}")
    p = result["params"]
    kib = 1024
    return ChunkResult(
        f"ours {p['min'] // kib}/{p['avg'] // kib}/{p['max'] // kib} KiB, zstd {p['level']}, "
        f"{p['pack_bytes'] // MIB} MiB packs",
        int(result["update_bytes"]),
        int(result["new_chunks"]),
        int(result["v1_objects"]),
        int(result["index_bytes"]),
        done.seconds,
        done.max_rss,
        [done.load_at_start],
        result,
        int(result["range_requests"]),
    )


def _store_chunks(store: Path) -> dict[str, int]:
    return {str(p.relative_to(store)): p.stat().st_size for p in store.rglob("*.cacnk")}


def chunks_casync(ctx: Context, casync: Path, chunk_size: int) -> ChunkResult:
    """`casync make` of v1 then v2 into one store: v2's new chunk files are what a v1 host
    (v1's chunks in its local store) fetches."""
    base = ctx.work / f"casync-{chunk_size // 1024}k"
    remove(base)
    store = base / "store"
    base.mkdir()
    options = ["--compression=zstd", f"--chunk-size={chunk_size}", f"--store={store}"]
    v1 = ctx.run([casync, "make", *options, base / "v1.caibx", ctx.pair.v1])
    after_v1 = _store_chunks(store)
    v2 = ctx.run([casync, "make", *options, base / "v2.caibx", ctx.pair.v2])
    after_v2 = _store_chunks(store)
    new = {name: size for name, size in after_v2.items() if name not in after_v1}
    index_bytes = (base / "v2.caibx").stat().st_size
    remove(base)
    return ChunkResult(
        f"casync {chunk_size // 1024} KiB (zstd)",
        sum(new.values()),
        len(new),
        len(after_v1),
        index_bytes,
        v1.seconds + v2.seconds,
        max(v1.max_rss, v2.max_rss),
        [v1.load_at_start, v2.load_at_start],
        {"v1_store_bytes": sum(after_v1.values())},
        len(new),
    )


def chunk_tables(
    chunks: list[ChunkResult], casync16: ChunkResult, ours: ChunkResult, gib: float
) -> tuple[str, list[tuple[str, str, bool]]]:
    """The chunk table and the two chunk goals."""
    rows = [
        [
            c.method,
            mb(c.update_bytes),
            f"{c.update_bytes / casync16.update_bytes:.2f}",
            f"{c.requests:,}",
            f"{c.new_chunks:,}",
            f"{c.index_bytes / 1e6:.2f}",
            f"{c.v1_objects / gib:,.0f}",
            f"{casync16.v1_objects / c.v1_objects:.1f}x",
            f"{c.seconds:.1f}",
            mib(c.max_rss),
        ]
        for c in chunks
    ]
    table = markdown_table(
        [
            "chunks",
            "v1 host fetches MB",
            "÷ casync-16k",
            "requests",
            "new chunks",
            "v2 index MB",
            "objects/GiB",
            "fewer objects than casync-16k",
            "v1+v2 stored s",
            "RSS MiB",
        ],
        rows,
    )
    bytes_ratio = ours.update_bytes / casync16.update_bytes
    fewer = casync16.v1_objects / ours.v1_objects
    goals = [
        (
            "chunk update bytes ≤ casync-16k's",
            f"{mb(ours.update_bytes)} MB = {bytes_ratio:.2f}x",
            bytes_ratio <= 1.0,
        ),
        (
            f"≥ {OBJECTS_FEWER_GOAL:.0f}x fewer objects per GiB than casync-16k",
            f"{fewer:.1f}x fewer",
            fewer >= OBJECTS_FEWER_GOAL,
        ),
    ]
    return table, goals


def chunk_legend(detail: dict[str, Any]) -> str:
    """One sentence on how ours stored v1 and v2 and what the v1 host's requests read."""
    return (
        f"Ours, chunks: v1 stored as {detail['v1_packs']} packs of "
        f"{mb(detail['v1_pack_bytes'])} MB ({detail['v1_chunks']:,} chunks, "
        f"{detail['v1_entries']:,} index entries), published in {detail['v1_publish_s']:.1f} s; "
        f"v2 added {detail['new_chunks']:,} chunks ({mb(detail['new_pack_bytes'])} MB) in "
        f"{detail['v2_packs_written']} pack(s) in {detail['v2_publish_s']:.1f} s; the v1 host's "
        f"{detail['range_requests']} Range requests read {detail['gap_bytes']:,} gap bytes; "
        f"v2 rebuilt from the donor and the ranges in {detail['rebuild_s']:.1f} s and verified. "
        f"A host with no donors: {detail['cold_requests']} Range requests move "
        f"{mb(detail['cold_bytes'])} MB (the manifest's data_chunk_bytes: "
        f"{mb(detail['data_chunk_bytes'])} MB) where plain HTTP moves {mb(detail['new_size'])} MB; "
        f"v2 rebuilt from them in {detail['cold_rebuild_s']:.1f} s and verified."
    )
