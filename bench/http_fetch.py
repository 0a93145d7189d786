"""HTTP fetch, verify and cache-hit benchmarks of `client-fetch`, each against a baseline tool run
in the same process tree, on the same file system, in the same run.

    python -m bench.http_fetch [--size-mib 1024] [--runs 3] [--hit-runs 20] [--json] [--check]

1. fetch: `client-fetch get` into an empty cache vs `curl -o FILE` of the same blob URL (and vs
   curl followed by an fsync of FILE: the client fsyncs the image it commits, curl does not).
2. verify: `client-fetch cache verify` vs `sha256sum` of the same cached file, page cache warm.
3. cache hit: `client-fetch get NAME@VERSION ... --json` on a cached image vs `python -c pass`.

All timings are whole-process wall time (spawn to exit). See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.harness import (
    DEFAULT_WORK_DIR,
    MIB,
    BenchError,
    PublishedImage,
    TestImage,
    clean_env,
    console_script,
    fsync_path,
    generate_image,
    log,
    machine_info,
    markdown_table,
    median,
    percentile,
    read_through,
    remove,
    run_timed,
    script_interpreter,
    serving,
    settle_disk,
    sha256_file,
    tool,
)

IMAGE_NAME = "bench-image"
FETCH_GOAL = 0.8  # client-fetch throughput / curl throughput
VERIFY_GOAL = 0.9  # cache verify throughput / sha256sum throughput
HIT_GOAL_MS = 150.0  # median whole-process cache-hit latency


@dataclass(frozen=True)
class Tools:
    client_fetch: Path
    python: Path
    curl: Path
    sha256sum: Path
    openssl: Path | None  # an extra, informational hash baseline when installed


@dataclass(frozen=True)
class Context:
    tools: Tools
    served: PublishedImage
    work: Path
    env: dict[str, str]

    def get_args(self, cache: Path) -> list[str | Path]:
        served = self.served
        return [
            self.tools.client_fetch,
            "get",
            served.ref,
            "--server",
            served.url,
            "--key",
            served.public_key,
            "--cache",
            cache,
            "--json",
        ]


@dataclass(frozen=True)
class Row:
    metric: str
    ours: str
    baseline: str
    ratio: str
    goal: str
    met: bool | None

    def cells(self) -> list[str]:
        met = "—" if self.met is None else ("yes" if self.met else "**no**")
        return [self.metric, self.ours, self.baseline, self.ratio, self.goal, met]


# --- checks ---------------------------------------------------------------------------------


def _client_result(ctx: Context, stdout: str, method: str | None) -> dict[str, Any]:
    """The `get --json` document, checked: right digest and size, and (if given) method."""
    lines = stdout.strip().splitlines()
    if not lines:
        raise BenchError("client-fetch get --json printed nothing")
    result: dict[str, Any] = json.loads(lines[-1])
    served = ctx.served
    if result.get("digest") != served.sha256 or result.get("size") != served.size:
        raise BenchError(f"client-fetch get returned {result}, expected sha256 {served.sha256}")
    if method == "cache" and result.get("method") != "cache":
        raise BenchError(f"expected a cache hit, got {result}")
    if method == "download" and (
        result.get("method") == "cache" or result.get("bytes_downloaded") != served.size
    ):
        raise BenchError(f"expected a full download of {served.size} bytes, got {result}")
    return result


def _check_file(path: Path, ctx: Context) -> None:
    size = path.stat().st_size
    if size != ctx.served.size:
        raise BenchError(f"{path} has {size} bytes, expected {ctx.served.size}")
    actual = sha256_file(path)
    if actual != ctx.served.sha256:
        raise BenchError(f"{path} has sha256 {actual}, expected {ctx.served.sha256}")


def _fetch_into(ctx: Context, cache: Path) -> Path:
    """Untimed `client-fetch get` into `cache`; the committed image's path."""
    result = _client_result(ctx, run_timed(ctx.get_args(cache), env=ctx.env).stdout, "download")
    return Path(result["cache_path"])


def _alternate(runs: int, *steps: Callable[[], None]) -> None:
    """Run every step `runs` times, interleaved, rotating which goes first (AB BA AB ... for two)
    so that no tool always runs right after the same other one."""
    for index in range(runs):
        shift = index % len(steps)
        for step in (*steps[shift:], *steps[:shift]):
            step()


# --- 1. fetch throughput vs curl ------------------------------------------------------------


def bench_fetch(ctx: Context, runs: int) -> dict[str, Any]:
    curl_out = ctx.work / "curl.out"
    client_cache = ctx.work / "client-cache"

    def curl_args(output: Path) -> list[str | Path]:
        return [
            ctx.tools.curl,
            *("--silent", "--show-error", "--fail", "--noproxy", "*"),
            *("--output", output, ctx.served.blob_url),
        ]

    samples: dict[str, list[float]] = {"client": [], "curl": [], "curl_fsync": []}
    if ctx.tools.openssl is not None:
        samples["curl_tee_openssl_fsync"] = []

    def fresh() -> None:
        remove(curl_out)
        remove(client_cache)
        settle_disk()

    # Warm-up (untimed): the server's blob into the page cache, the client's imports and .pyc.
    run_timed(curl_args(Path("/dev/null")), env=ctx.env)
    fresh()
    _fetch_into(ctx, client_cache)

    def curl_run() -> None:
        fresh()
        start = time.perf_counter()
        run_timed(curl_args(curl_out), env=ctx.env)
        curl_done = time.perf_counter()
        fsync_path(curl_out)
        synced = time.perf_counter()
        samples["curl"].append(curl_done - start)
        samples["curl_fsync"].append(synced - start)
        _check_file(curl_out, ctx)

    def client_run() -> None:
        fresh()
        timed = run_timed(ctx.get_args(client_cache), env=ctx.env)
        samples["client"].append(timed.seconds)
        result = _client_result(ctx, timed.stdout, "download")
        _check_file(Path(result["cache_path"]), ctx)

    def same_work_run() -> None:
        """The same work as ours with standard tools: download, write, sha256, fsync."""
        assert ctx.tools.openssl is not None
        fresh()
        pipeline = " | ".join(
            [
                " ".join(shlex.quote(str(arg)) for arg in curl_args(Path("-"))),
                f"tee {shlex.quote(str(curl_out))}",
                f"{shlex.quote(str(ctx.tools.openssl))} dgst -sha256 -r",
            ]
        )
        start = time.perf_counter()
        timed = run_timed(["bash", "-o", "pipefail", "-c", pipeline], env=ctx.env)
        fsync_path(curl_out)
        samples["curl_tee_openssl_fsync"].append(time.perf_counter() - start)
        if not timed.stdout.startswith(ctx.served.sha256):
            raise BenchError(f"curl | tee | openssl printed {timed.stdout!r}")

    extra = [same_work_run] if ctx.tools.openssl is not None else []
    _alternate(runs, curl_run, client_run, *extra)
    fresh()
    return {"seconds": samples, **_throughputs(samples, ctx.served.size)}


def _throughputs(samples: dict[str, list[float]], size: int) -> dict[str, Any]:
    medians = {name: median(values) for name, values in samples.items()}
    return {
        "median_seconds": medians,
        "median_mib_per_s": {name: size / MIB / seconds for name, seconds in medians.items()},
    }


# --- 2. verify throughput vs sha256sum ------------------------------------------------------


def bench_verify(ctx: Context, cache: Path, image: Path, runs: int) -> dict[str, Any]:
    samples: dict[str, list[float]] = {"client": [], "sha256sum": []}
    if ctx.tools.openssl is not None:
        samples["openssl"] = []
    verify_args: list[str | Path] = [
        ctx.tools.client_fetch,
        "cache",
        "verify",
        "--cache",
        cache,
        "--json",
    ]

    def sha256sum_run() -> None:
        timed = run_timed([ctx.tools.sha256sum, image], env=ctx.env)
        if timed.stdout.split()[:1] != [ctx.served.sha256]:
            raise BenchError(f"sha256sum printed {timed.stdout!r}, expected {ctx.served.sha256}")
        samples["sha256sum"].append(timed.seconds)

    def openssl_run() -> None:
        assert ctx.tools.openssl is not None
        timed = run_timed([ctx.tools.openssl, "dgst", "-sha256", "-r", image], env=ctx.env)
        if timed.stdout.split()[:1] != [ctx.served.sha256]:
            raise BenchError(f"openssl dgst printed {timed.stdout!r}")
        samples["openssl"].append(timed.seconds)

    def verify_run() -> None:
        timed = run_timed(verify_args, env=ctx.env)
        results = json.loads(timed.stdout.strip().splitlines()[-1])["results"]
        wanted = [{"digest": ctx.served.sha256, "status": "ok"}]
        if [{"digest": r["digest"], "status": r["status"]} for r in results] != wanted:
            raise BenchError(f"cache verify reported {results}, expected {wanted}")
        samples["client"].append(timed.seconds)

    steps = [sha256sum_run, verify_run, *([openssl_run] if ctx.tools.openssl else [])]
    read_through(image)  # warm page cache for all
    for step in steps:  # warm-up (untimed: dropped below)
        step()
    for values in samples.values():
        values.clear()
    _alternate(runs, *steps)
    return {"seconds": samples, **_throughputs(samples, ctx.served.size)}


# --- 3. cache-hit latency vs interpreter start-up -------------------------------------------


def bench_cache_hit(ctx: Context, cache: Path, runs: int) -> dict[str, Any]:
    samples: dict[str, list[float]] = {"client": [], "python_pass": []}
    hit_args = ctx.get_args(cache)

    def hit_run() -> None:
        timed = run_timed(hit_args, env=ctx.env)
        _client_result(ctx, timed.stdout, "cache")
        samples["client"].append(timed.seconds)

    def python_run() -> None:
        samples["python_pass"].append(
            run_timed([ctx.tools.python, "-c", "pass"], env=ctx.env).seconds
        )

    for _ in range(2):  # warm-up
        hit_run()
        python_run()
    for values in samples.values():
        values.clear()
    _alternate(runs, hit_run, python_run)
    return {
        "seconds": samples,
        "median_ms": {name: median(values) * 1000 for name, values in samples.items()},
        "p95_ms": {name: percentile(values, 0.95) * 1000 for name, values in samples.items()},
    }


# --- the run --------------------------------------------------------------------------------


def _rows(fetch: dict[str, Any], verify: dict[str, Any], hit: dict[str, Any]) -> list[Row]:
    def rate(result: dict[str, Any], name: str) -> str:
        return (
            f"{result['median_mib_per_s'][name]:.0f} MiB/s ({result['median_seconds'][name]:.2f} s)"
        )

    def throughput_row(metric: str, result: dict[str, Any], baseline: str, goal: float) -> Row:
        # Same bytes, so throughput ours ÷ baseline = baseline seconds ÷ our seconds.
        ratio = result["median_seconds"][baseline] / result["median_seconds"]["client"]
        ours, theirs = rate(result, "client"), rate(result, baseline)
        return Row(metric, ours, theirs, f"{ratio:.2f}", f"≥ {goal}", ratio >= goal)

    rows = [
        throughput_row("fetch throughput ÷ curl", fetch, "curl", FETCH_GOAL),
        throughput_row("fetch throughput ÷ (curl + fsync)", fetch, "curl_fsync", FETCH_GOAL),
        throughput_row("verify throughput ÷ sha256sum", verify, "sha256sum", VERIFY_GOAL),
    ]
    if "curl_tee_openssl_fsync" in fetch["median_seconds"]:
        info = throughput_row(
            "fetch ÷ same work: curl | tee | openssl dgst, fsync (info)",
            fetch,
            "curl_tee_openssl_fsync",
            0,
        )
        rows.insert(2, Row(info.metric, info.ours, info.baseline, info.ratio, "—", None))
    if "openssl" in verify["median_seconds"]:
        info = throughput_row("verify throughput ÷ openssl dgst (info)", verify, "openssl", 0)
        rows.append(Row(info.metric, info.ours, info.baseline, info.ratio, "—", None))
    for stat in ("median", "p95"):
        ours, base = hit[f"{stat}_ms"]["client"], hit[f"{stat}_ms"]["python_pass"]
        rows.append(
            Row(
                f"cache-hit latency, {stat} (ratio: ours ÷ python -c pass)",
                f"{ours:.0f} ms",
                f"{base:.0f} ms",
                f"{ours / base:.2f}",
                f"≤ {HIT_GOAL_MS:.0f} ms" if stat == "median" else "—",
                ours <= HIT_GOAL_MS if stat == "median" else None,
            )
        )
    return rows


def run(args: argparse.Namespace) -> dict[str, Any]:
    client_fetch = console_script("client-fetch")
    openssl = shutil.which("openssl")
    tools = Tools(
        client_fetch,
        script_interpreter(client_fetch),
        tool("curl"),
        tool("sha256sum"),
        Path(openssl) if openssl else None,
    )
    work: Path = args.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    info = machine_info(work, tools.python)
    log(f"image: {args.size_mib} MiB (seed {args.seed}) in {work} ...")
    image: TestImage = generate_image(work, args.size_mib, args.seed)
    # The distributor's blob copy (first run), curl's output, the cold cache, the hit cache.
    _check_free_space(work, 4 * image.size)
    env = clean_env()
    runs_dir = work / "http_fetch"
    remove(runs_dir)
    runs_dir.mkdir()
    version = f"{args.size_mib}mib-seed{args.seed}"
    try:
        with serving(work / "distributor-data", image, IMAGE_NAME, version, env) as served:
            ctx = Context(tools, served, runs_dir, env)
            log(f"distributor at {served.url}; fetch x{args.runs} (client, curl; interleaved) ...")
            fetch = bench_fetch(ctx, args.runs)
            hit_cache = runs_dir / "hit-cache"
            cached_image = _fetch_into(ctx, hit_cache)
            settle_disk()
            log(f"verify x{args.runs} (cache verify, sha256sum, openssl; interleaved) ...")
            verify = bench_verify(ctx, hit_cache, cached_image, args.runs)
            log(
                f"cache hit x{args.hit_runs} (client-fetch get and python -c pass, alternating) ..."
            )
            hit = bench_cache_hit(ctx, hit_cache, args.hit_runs)
    finally:
        remove(runs_dir)  # outputs of this run only; the image and server data are kept
    rows = _rows(fetch, verify, hit)
    return {
        "machine": info,
        "config": {
            "size_bytes": image.size,
            "size_mib": args.size_mib,
            "seed": args.seed,
            "runs": args.runs,
            "hit_runs": args.hit_runs,
            "image_sha256": image.sha256,
            "client_fetch": str(tools.client_fetch),
        },
        "fetch": fetch,
        "verify": verify,
        "cache_hit": hit,
        "table": [asdict(row) for row in rows],
        "all_goals_met": all(row.met is not False for row in rows),
    }


def _check_free_space(work: Path, needed: int) -> None:
    free = shutil.disk_usage(work).free
    if free < needed:
        raise BenchError(f"{work} has {free / MIB:.0f} MiB free; the run needs {needed / MIB:.0f}")


def render(results: dict[str, Any]) -> str:
    info, config = results["machine"], results["config"]
    header = [
        f"# client-fetch HTTP benchmark ({config['size_mib']} MiB image, "
        f"medians of {config['runs']} runs; cache hit: {config['hit_runs']} runs)",
        "",
        f"- machine: {info['nproc']} CPUs ({info['cpu']}), {info['memory']} RAM, {info['kernel']}",
        f"- python: {info['python']} ({info['interpreter']})",
        f"- cache dir: {info['cache_dir']} — {info['file_system']}",
        f"- baselines: {info['curl']}; {info['sha256sum']}"
        + (f"; {info['openssl']}" if "openssl" in results["verify"]["seconds"] else ""),
        "",
    ]
    rows = [Row(**row).cells() for row in results["table"]]
    table = markdown_table(["metric", "ours", "baseline", "ratio", "goal", "met?"], rows)
    legend = [
        "",
        "Throughput ratios are ours ÷ baseline (same bytes: baseline seconds ÷ our seconds);",
        "latency ratios are ours ÷ baseline. Whole-process wall times; samples (s):",
        *(
            f"- {part} {name}: {', '.join(f'{value:.3f}' for value in values)}"
            for part in ("fetch", "verify")
            for name, values in results[part]["seconds"].items()
        ),
    ]
    return "\n".join([*header, table, *legend])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.http_fetch", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--size-mib", type=int, default=1024, help="image size (default 1024)")
    parser.add_argument("--runs", type=int, default=3, help="fetch/verify runs (default 3)")
    parser.add_argument("--hit-runs", type=int, default=20, help="cache-hit runs (default 20)")
    parser.add_argument("--seed", type=int, default=1, help="image RNG seed (default 1)")
    parser.add_argument(
        "--work-dir", type=Path, default=DEFAULT_WORK_DIR, help="default: bench/.cache"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args(argv)
    if args.size_mib < 1 or args.runs < 1 or args.hit_runs < 1:
        parser.error("--size-mib, --runs and --hit-runs must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        results = run(args)
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(results, indent=2) if args.json else render(results))
    return 1 if args.check and not results["all_goals_met"] else 0


if __name__ == "__main__":
    sys.exit(main())
