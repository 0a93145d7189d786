"""Update benchmark: our delta patches and chunks against zstd, xdelta3, rsync and casync, on a
pair of ext4 images of a Debian root file system (v1 from debootstrap, v2 after package changes in
a chroot; `bench.update_pair`), all measured in the same run.

    python -m bench.update [--size-gib 1] [--json] [--skip-build] [--check] [--only chunks]

Patches (v1 → v2): bytes, make and apply time (whole process, spawn to exit), peak RSS (each
command in its own process, `ru_maxrss` from `wait4`), every result checked against v2's sha256:
ours (`make_delta`/`apply_delta`, defaults), `zstd --patch-from=v1 --long=31` at -3 and -19,
`xdelta3 -9 -B <image size>`, `rsync --no-whole-file --only-write-batch` + `zstd -19` of the batch.
Chunks: the bytes a host holding v1 fetches to get v2 and the objects per GiB a server stores:
ours (the distributor's chunk step with its default settings: v1 then v2 published into pack
files; the fetcher's range planner with v1 as the donor; v2 rebuilt from the donor and those
ranges and checked against v2's sha256; bytes = what the Range requests return, gaps included;
objects = v1's packs + its index blob) against `casync make` at 16 and 64 KiB into one store
(bytes = v2's new chunk files; objects = v1's chunk files). `--only chunks` skips the patches.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from bench.harness import (
    DEFAULT_WORK_DIR,
    MIB,
    BenchError,
    log,
    machine_info,
    markdown_table,
    read_through,
    remove,
    settle_disk,
    sha256_file,
    tool,
)
from bench.update_chunks import (
    ChunkResult,
    chunk_legend,
    chunk_tables,
    chunks_casync,
    chunks_ours,
)
from bench.update_chunks import (
    mb as _mb,
)
from bench.update_chunks import (
    mib as _mib,
)
from bench.update_pair import PairInfo, build_pair

GIB = 1 << 30
PATCH_BYTES_GOAL = 0.9  # ours ÷ zstd --patch-from -19
MAKE_S_PER_GIB_GOAL = 15.0
APPLY_S_PER_GIB_GOAL = 3.0
RSS_GOAL_BYTES = 512 * MIB
DEFAULT_TIMEOUT_S = 1800.0
POLL_S = 0.02


# --- measured processes -------------------------------------------------------------------------


@dataclass(frozen=True)
class Measured:
    """One process: wall seconds spawn to exit, peak RSS (of it and the children it reaped), the
    1-minute load average when it started, its stdout."""

    seconds: float
    max_rss: int
    load_at_start: float
    stdout: str = field(repr=False)


def measure(
    args: Sequence[str | Path], *, timeout_s: float, env: dict[str, str] | None = None
) -> Measured:
    """Run `args`; `BenchError` on a non-zero exit or after `timeout_s` (the process group is
    killed then, and on any exception such as Ctrl-C or SIGTERM)."""
    argv = [str(arg) for arg in args]
    load = os.getloadavg()[0]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        pid = os.posix_spawnp(
            argv[0],
            argv,
            dict(os.environ) if env is None else env,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, out.fileno(), 1),
                (os.POSIX_SPAWN_DUP2, err.fileno(), 2),
            ],
            setsid=True,
        )
        try:
            while True:
                done, status, usage = os.wait4(pid, os.WNOHANG)
                if done:
                    break
                if time.perf_counter() - start > timeout_s:
                    raise BenchError(f"{' '.join(argv)}: timed out after {timeout_s:.0f} s")
                time.sleep(POLL_S)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.wait4(pid, 0)
            raise
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise BenchError(f"{' '.join(argv)} exited with {code}\n{stderr[-2000:]}")
    return Measured(seconds, usage.ru_maxrss * 1024, load, stdout)


# --- the methods ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    pair: PairInfo
    work: Path
    v2_sha256: str
    timeout_s: float
    python: Path
    env: dict[str, str]

    def run(self, args: Sequence[str | Path]) -> Measured:
        return measure(args, timeout_s=self.timeout_s, env=self.env)

    def worker(self, *args: str | Path) -> tuple[Measured, dict[str, Any]]:
        done = self.run([self.python, "-m", "bench.update_worker", *args])
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return done, result

    def check_v2(self, path: Path, what: str) -> None:
        """`path` must be exactly v2 (then it is removed)."""
        size = path.stat().st_size
        digest = sha256_file(path)
        if size != self.pair.size or digest != self.v2_sha256:
            raise BenchError(f"{what}: {path} is not v2 ({size} bytes, sha256 {digest})")
        remove(path)


@dataclass(frozen=True)
class PatchResult:
    method: str
    patch_bytes: int
    make_s: float
    apply_s: float
    make_rss: int
    apply_rss: int
    loads: list[float]
    detail: dict[str, Any] = field(default_factory=dict)


def _patch_result(
    method: str, patch: Path, make: Sequence[Measured], apply: Sequence[Measured], **detail: Any
) -> PatchResult:
    return PatchResult(
        method,
        patch.stat().st_size,
        sum(m.seconds for m in make),
        sum(m.seconds for m in apply),
        max(m.max_rss for m in make),
        max(m.max_rss for m in apply),
        [m.load_at_start for m in (*make, *apply)],
        dict(detail),
    )


def patch_ours(ctx: Context) -> PatchResult:
    patch, out = ctx.work / "ours.patch", ctx.work / "ours.out"
    make, made = ctx.worker("make", ctx.pair.v1, ctx.pair.v2, patch)
    apply, applied = ctx.worker("apply", ctx.pair.v1, patch, out)
    allocated = applied["allocated_bytes"]
    ctx.check_v2(out, "apply_delta")
    return _patch_result(
        "ours (`make_delta`, defaults)",
        patch,
        [make],
        [apply],
        blocks=made["blocks"],
        output_allocated_bytes=allocated,
    )


def patch_zstd(ctx: Context, zstd: Path, level: int) -> PatchResult:
    patch, out = ctx.work / f"zstd{level}.patch", ctx.work / f"zstd{level}.out"
    common = ["-q", "-f", f"--patch-from={ctx.pair.v1}", "--long=31"]
    make = ctx.run([zstd, *common, f"-{level}", ctx.pair.v2, "-o", patch])
    apply = ctx.run([zstd, *common, "-d", patch, "-o", out])
    ctx.check_v2(out, f"zstd -{level} --patch-from")
    return _patch_result(f"`zstd --patch-from --long=31 -{level}`", patch, [make], [apply])


def patch_xdelta3(ctx: Context, xdelta3: Path) -> PatchResult:
    patch, out = ctx.work / "xdelta3.patch", ctx.work / "xdelta3.out"
    window = ["-B", str(ctx.pair.size)]
    make = ctx.run([xdelta3, "-9", *window, "-e", "-f", "-s", ctx.pair.v1, ctx.pair.v2, patch])
    apply = ctx.run([xdelta3, "-d", *window, "-f", "-s", ctx.pair.v1, patch, out])
    ctx.check_v2(out, "xdelta3 -d")
    return _patch_result(f"`xdelta3 -9 -B {ctx.pair.size}`", patch, [make], [apply])


def patch_rsync(ctx: Context, rsync: Path, zstd: Path) -> PatchResult:
    """The batch a `rsync` of v2 onto a copy of v1 would send (delta algorithm forced on: a local
    copy defaults to whole files), compressed with `zstd -19`; applied with `--read-batch` onto
    another copy of v1."""
    dest = ctx.work / "rsync-dest"
    remove(dest)
    dest.mkdir()
    basis = dest / ctx.pair.v2.name  # v1's content under v2's name
    ctx.run(["cp", "--sparse=always", ctx.pair.v1, basis])  # untimed
    batch, packed = ctx.work / "rsync.batch", ctx.work / "rsync.batch.zst"
    rsync_make: list[str | Path] = [rsync, "--no-whole-file", "--ignore-times"]
    write = ctx.run([*rsync_make, f"--only-write-batch={batch}", ctx.pair.v2, f"{dest}/"])
    compress = ctx.run([zstd, "-q", "-f", "-19", batch, "-o", packed])
    raw_batch = batch.stat().st_size
    remove(batch)
    unpack = ctx.run([zstd, "-q", "-f", "-d", packed, "-o", batch])
    read = ctx.run([rsync, f"--read-batch={batch}", f"{dest}/"])
    ctx.check_v2(basis, "rsync --read-batch")
    remove(dest)
    remove(batch)
    remove(batch.with_name(batch.name + ".sh"))
    return _patch_result(
        "`rsync --only-write-batch` + `zstd -19`",
        packed,
        [write, compress],
        [unpack, read],
        raw_batch_bytes=raw_batch,
    )


# --- the report -------------------------------------------------------------------------------


def _yes(met: bool) -> str:
    return "met" if met else "**not met**"


def tables(results: dict[str, Any]) -> dict[str, str]:
    gib = results["pair"]["size"] / GIB
    patches = [PatchResult(**row) for row in results["patches"]]
    chunks = [ChunkResult(**row) for row in results["chunks"]]
    casync16 = next(c for c in chunks if c.method.startswith("casync 16"))
    ours_chunks = chunks[0]
    chunk_table, chunk_goals = chunk_tables(chunks, casync16, ours_chunks, gib)
    if not patches:  # --only chunks
        results["goals"] = [{"goal": g, "measured": m, "met": met} for g, m, met in chunk_goals]
        goal_table = markdown_table(
            ["goal (issue 4)", "ours", "met?"], [[g, m, _yes(x)] for g, m, x in chunk_goals]
        )
        return {"patches": "", "chunks": chunk_table, "goals": goal_table}
    zstd19 = next(p for p in patches if "-19`" in p.method and "zstd --patch" in p.method)
    ours_patch = patches[0]
    patch_rows = [
        [
            p.method,
            _mb(p.patch_bytes),
            f"{p.patch_bytes / zstd19.patch_bytes:.2f}",
            f"{p.make_s:.1f}",
            f"{p.make_s / gib:.1f}",
            f"{p.apply_s:.1f}",
            f"{p.apply_s / gib:.1f}",
            _mib(p.make_rss),
            _mib(p.apply_rss),
        ]
        for p in patches
    ]
    patch_table = markdown_table(
        [
            "patch v1 → v2",
            "MB",
            "÷ zstd-19",
            "make s",
            "make s/GiB",
            "apply s",
            "apply s/GiB",
            "make RSS MiB",
            "apply RSS MiB",
        ],
        patch_rows,
    )
    ratio = ours_patch.patch_bytes / zstd19.patch_bytes
    make_per_gib, apply_per_gib = ours_patch.make_s / gib, ours_patch.apply_s / gib
    rss = max(ours_patch.make_rss, ours_patch.apply_rss)
    goals = [
        (
            f"patch bytes ≤ {PATCH_BYTES_GOAL}x `zstd --patch-from -19`",
            f"{_mb(ours_patch.patch_bytes)} MB = {ratio:.2f}x",
            ratio <= PATCH_BYTES_GOAL,
        ),
        (
            f"made in ≤ {MAKE_S_PER_GIB_GOAL:.0f} s per GiB",
            f"{make_per_gib:.1f} s/GiB",
            make_per_gib <= MAKE_S_PER_GIB_GOAL,
        ),
        (
            f"applied in ≤ {APPLY_S_PER_GIB_GOAL:.0f} s per GiB",
            f"{apply_per_gib:.1f} s/GiB",
            apply_per_gib <= APPLY_S_PER_GIB_GOAL,
        ),
        (
            f"≤ {RSS_GOAL_BYTES // MIB} MiB RSS (make and apply)",
            f"{_mib(rss)} MiB",
            rss <= RSS_GOAL_BYTES,
        ),
        *chunk_goals,
    ]
    results["goals"] = [{"goal": g, "measured": m, "met": met} for g, m, met in goals]
    goal_table = markdown_table(
        ["goal (issue 4)", "ours", "met?"], [[g, m, _yes(x)] for g, m, x in goals]
    )
    return {"patches": patch_table, "chunks": chunk_table, "goals": goal_table}


def render(results: dict[str, Any], rendered: dict[str, str]) -> str:
    info, pair, tools = results["machine"], results["pair"], results["tools"]
    loads = results["load_average"]
    gib = pair["size"] / GIB
    head = [
        f"# Update benchmark: {gib:g} GiB ext4 pair ({pair['kind']})",
        "",
        f"- pair: {pair['description']}",
        f"- images: {pair['size']:,} bytes each, allocated v1 "
        f"{_mb(results['allocated']['v1'])} MB, v2 {_mb(results['allocated']['v2'])} MB; "
        f"trees {_mb(pair['v1_tree_bytes'])} MB → "
        f"{_mb(pair['v2_tree_bytes'])} MB; `{pair['mkfs']}`",
        f"- machine: {info['nproc']} CPUs ({info['cpu']}), {info['memory']} RAM, {info['kernel']}, "
        f"{info['python']}; work dir {info['file_system']}",
        f"- load average (1/5/15 min): at start {loads['start']}, at end {loads['end']} "
        "(other sessions may share the machine)",
        f"- tools: {tools}",
        "",
    ]
    legend = [
        "",
        "Times are whole-process wall times (spawn to exit), page cache warm; RSS is each "
        "process's peak (`wait4` `ru_maxrss`, children included), the larger of its steps. "
        "Every patch was applied, and v2 rebuilt from chunks, and each result's sha256 checked "
        "against v2. MB = 10^6 bytes.",
        "1-min load average when each step started: "
        + "; ".join(
            f"{row['method']}: {', '.join(f'{x:.1f}' for x in row['loads'])}"
            for row in (*results["patches"], *results["chunks"])
        ),
    ]
    if results["patches"]:
        ours = results["patches"][0]["detail"]
        blocks = ", ".join(f"{op} {n * 4096 / 1e6:.1f} MB" for op, n in ours["blocks"].items())
        legend.append(f"Ours, blocks of v2 by operation: {blocks}.")
    legend.append(chunk_legend(results["chunks"][0]["detail"]))
    return "\n".join(
        [
            *head,
            *([rendered["patches"], ""] if rendered["patches"] else []),
            rendered["chunks"],
            "",
            rendered["goals"],
            *legend,
        ]
    )


# --- the run --------------------------------------------------------------------------------


def _version(args: Sequence[str]) -> str:
    try:
        done = measure(args, timeout_s=30)
    except BenchError:
        return "unknown"
    return done.stdout.strip().splitlines()[0] if done.stdout.strip() else "unknown"


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


@contextlib.contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """SIGTERM/SIGHUP raise SystemExit, so every cleanup (children, chroot mounts) runs."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run(args: argparse.Namespace) -> dict[str, Any]:
    zstd, xdelta3, rsync, casync = (tool(n) for n in ("zstd", "xdelta3", "rsync", "casync"))
    for name in ("debootstrap", "mke2fs", "chroot"):
        if not args.skip_build:
            tool(name)
    start_load = _load()
    work: Path = args.work_dir.resolve()
    size_mib = round(args.size_gib * 1024)
    pair = build_pair(work / "update-pair", size_mib, reuse_only=args.skip_build)
    run_dir = work / "update-run"
    remove(run_dir)
    run_dir.mkdir(parents=True)
    repo = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")])),
    }
    log("hashing v2 and warming the page cache ...")
    read_through(pair.v1)
    ctx = Context(pair, run_dir, sha256_file(pair.v2), args.timeout_s, Path(sys.executable), env)
    settle_disk()
    patches: list[PatchResult] = []
    chunks: list[ChunkResult] = []
    try:
        if args.only != "chunks":
            log("ours: make_delta, apply_delta ...")
            patches.append(patch_ours(ctx))
            for level in (3, 19):
                log(f"zstd --patch-from -{level} ...")
                patches.append(patch_zstd(ctx, zstd, level))
            log("xdelta3 -9 ...")
            patches.append(patch_xdelta3(ctx, xdelta3))
            log("rsync --only-write-batch + zstd -19 ...")
            patches.append(patch_rsync(ctx, rsync, zstd))
        log("ours: v1 and v2 published into packs, v2 rebuilt from v1 + ranges ...")
        chunks.append(chunks_ours(ctx))
        for size in (16 * 1024, 64 * 1024):
            log(f"casync make {size // 1024} KiB, v1 then v2 into one store ...")
            chunks.append(chunks_casync(ctx, casync, size))
    finally:
        remove(run_dir)
    return {
        "machine": machine_info(work, ctx.python),
        "pair": pair.as_json(),
        "allocated": {
            "v1": pair.v1.stat().st_blocks * 512,
            "v2": pair.v2.stat().st_blocks * 512,
        },
        "tools": "; ".join(
            [
                _version([str(zstd), "--version"]).strip("* ").split(", by")[0],
                " ".join(_version(["sh", "-c", f"{xdelta3} -V 2>&1"]).split()[:3]).rstrip(","),
                " ".join(_version([str(rsync), "--version"]).split()[:3]),
                _version([str(casync), "--version"]),
            ]
        ),
        "load_average": {"start": start_load, "end": _load()},
        "config": {"size_gib": args.size_gib, "timeout_s": args.timeout_s, "only": args.only},
        "patches": [asdict(p) for p in patches],
        "chunks": [asdict(c) for c in chunks],
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.update", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--size-gib", type=float, default=1.0, help="image size (default 1)")
    parser.add_argument(
        "--skip-build", action="store_true", help="use the cached pair; never build it"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    parser.add_argument(
        "--only",
        choices=["all", "chunks"],
        default="all",
        help="chunks: only the chunk rows (ours, casync 16k and 64k), no patches",
    )
    parser.add_argument(
        "--timeout-s",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        help=f"limit for each command (default {DEFAULT_TIMEOUT_S:.0f})",
    )
    parser.add_argument(
        "--work-dir", type=Path, default=DEFAULT_WORK_DIR, help="default: bench/.cache"
    )
    args = parser.parse_args(argv)
    if args.size_gib < 0.25:
        parser.error("--size-gib must be at least 0.25 (the Debian tree takes ~170 MB)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        with _sigterm_as_exit():
            results = run(args)
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    rendered = tables(results)
    print(json.dumps(results, indent=2) if args.json else render(results, rendered))
    met = all(goal["met"] for goal in results["goals"])
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
