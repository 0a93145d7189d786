"""Shared benchmark plumbing: timed subprocesses, statistics, the test image, a running distributor,
machine information and the markdown table.

Not responsible for what is measured or the goals (each benchmark module owns those). Error
contract: anything that makes a measurement meaningless (a failing command, a wrong digest, a
server that does not come up) raises `BenchError`; the distributor is stopped on every exit path.
"""

from __future__ import annotations

import compileall
import contextlib
import hashlib
import json
import math
import os
import platform
import shutil
import stat
import statistics
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distributor.local_server import ServerStartFailed, distributor_command, start_local_server

BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_WORK_DIR = BENCH_DIR / ".cache"
MIB = 1024 * 1024
IMAGE_FORMAT_VERSION = 2  # bump when the generator changes, so cached images are regenerated
ZERO_BLOCK_FRACTION = 0.25


class BenchError(RuntimeError):
    """The benchmark cannot produce a meaningful number (a command failed, a digest is wrong)."""


# --- processes and timing -------------------------------------------------------------------


@dataclass(frozen=True)
class TimedRun:
    """One whole-process run: wall seconds from spawn to exit, and its captured output."""

    seconds: float
    stdout: str
    stderr: str


def run_timed(
    args: Sequence[str | Path],
    *,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 600.0,
) -> TimedRun:
    """Run `args` to completion, timing spawn to exit; raise `BenchError` on a non-zero exit."""
    argv = [str(arg) for arg in args]
    start = time.perf_counter()
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            errors="replace",
            env=None if env is None else dict(env),
            timeout=timeout_s,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BenchError(f"{' '.join(argv)}: {exc}") from exc
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise BenchError(
            f"{' '.join(argv)} exited with {done.returncode}\n"
            f"--- stdout ---\n{done.stdout[-2000:]}\n--- stderr ---\n{done.stderr[-2000:]}"
        )
    return TimedRun(seconds, done.stdout, done.stderr)


def console_script(name: str) -> Path:
    """The absolute path of an installed console script in this environment's scripts dir."""
    path = Path(sysconfig.get_path("scripts")) / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise BenchError(f"console script {path} not found: is the project installed (pip -e .)?")
    return path


def script_interpreter(script: Path) -> Path:
    """The interpreter named on `script`'s shebang line (else this one), for baselines."""
    with script.open("rb") as handle:
        first = handle.readline().decode("utf-8", errors="replace").strip()
    if first.startswith("#!"):
        candidate = Path(first[2:].strip().split()[0])
        if candidate.name not in ("env", "sh") and os.access(candidate, os.X_OK):
            return candidate
    return Path(sys.executable)


def tool(name: str) -> Path:
    found = shutil.which(name)
    if found is None:
        raise BenchError(f"{name} is not installed (it is the baseline)")
    return Path(found)


def clean_env() -> dict[str, str]:
    """This environment without DISTRIBUTOR_* / CLIENT_FETCH_* (and proxy) settings, so only the
    flags the benchmark passes configure the tools."""
    dropped = ("DISTRIBUTOR_", "CLIENT_FETCH_")
    proxies = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(dropped) and key.lower() not in proxies
    }


PROJECT_PACKAGES = ("image_format", "swarm", "distributor", "seeder", "client_fetch")


def precompile_project() -> None:
    """Write the project's bytecode once, as installing a wheel does, so that N processes started
    at once do not each compile every module (PYTHONDONTWRITEBYTECODE=1 stops them writing it)."""
    root = Path(__file__).resolve().parent.parent
    for package in PROJECT_PACKAGES:
        compileall.compile_dir(root / package, quiet=1)


# --- statistics -----------------------------------------------------------------------------


def log(message: str) -> None:
    """Progress for the reader, on stderr (the report goes to stdout)."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (p95 of 20 samples is the 19th smallest)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


# --- files ----------------------------------------------------------------------------------


def remove(path: Path) -> None:
    """Remove a file or a tree (cache images and their directories may be read-only)."""

    def retry_writable(function: Callable[[str], object], target: str, _exc: object) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(target), stat.S_IRWXU)
        with contextlib.suppress(OSError):
            os.chmod(target, stat.S_IRWXU)
        function(target)

    if path.is_dir() and not path.is_symlink():
        if sys.version_info >= (3, 12):
            shutil.rmtree(path, onexc=retry_writable)
        else:
            shutil.rmtree(path, onerror=retry_writable)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def settle_disk() -> None:
    """Flush all dirty data (ours and earlier runs') so no writeback overlaps the next timing."""
    os.sync()


def sha256_file(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def read_through(path: Path) -> None:
    """Read the whole file once (puts it in the page cache)."""
    with path.open("rb", buffering=0) as handle:
        while handle.read(8 * MIB):
            pass


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class TestImage:
    path: Path
    size: int
    sha256: str
    seed: int
    nonzero_bytes: int
    """Bytes outside the all-zero 1 MiB blocks: what must cross a network that skips zeros."""


def generate_image(
    work_dir: Path, size_mib: int, seed: int, zero_fraction: float = ZERO_BLOCK_FRACTION
) -> TestImage:
    """The benchmark image: `size_mib` 1 MiB blocks from `random.Random(seed)`, each a zero block
    with probability `zero_fraction` (VM images have many), the rest random bytes. Generated once
    (streamed, never whole in memory) and reused while its metadata file matches."""
    import random

    work_dir.mkdir(parents=True, exist_ok=True)
    variant = "" if zero_fraction == ZERO_BLOCK_FRACTION else f"-zero{zero_fraction:g}"
    path = work_dir / f"image-{size_mib}MiB-seed{seed}{variant}.img"
    meta_path = path.with_suffix(".json")
    expected = {
        "format": IMAGE_FORMAT_VERSION,
        "size": size_mib * MIB,
        "seed": seed,
        "zero_fraction": zero_fraction,
    }
    with contextlib.suppress(OSError, ValueError, KeyError):
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if {k: meta.get(k) for k in expected} == expected and path.stat().st_size == meta["size"]:
            return TestImage(path, meta["size"], str(meta["sha256"]), seed, meta["nonzero_bytes"])
    rng = random.Random(seed)
    zero = bytes(MIB)
    digest = hashlib.sha256()
    nonzero = 0
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as handle:
        for _ in range(size_mib):
            block = zero if rng.random() < zero_fraction else rng.randbytes(MIB)
            nonzero += 0 if block is zero else MIB
            digest.update(block)
            handle.write(block)
    tmp.replace(path)
    meta = {**expected, "sha256": digest.hexdigest(), "nonzero_bytes": nonzero}
    meta_path.write_text(json.dumps(meta) + "\n", encoding="utf-8")
    return TestImage(path, size_mib * MIB, digest.hexdigest(), seed, nonzero)


# --- the distributor ------------------------------------------------------------------------


@dataclass(frozen=True)
class PublishedImage:
    """A running distributor serving one published image."""

    url: str
    public_key: str
    name: str
    version: str
    sha256: str
    size: int
    log_path: Path

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def blob_url(self) -> str:
        return f"{self.url}/v1/blobs/sha256/{self.sha256}"


def _distributor_cli(args: Sequence[str | Path], env: Mapping[str, str]) -> str:
    return run_timed([*distributor_command(), *args], env=env, timeout_s=900.0).stdout


@contextlib.contextmanager
def serving(
    data_dir: Path, image: TestImage, name: str, version: str, env: Mapping[str, str]
) -> Iterator[PublishedImage]:
    """Make the key (once), publish `image` (idempotent), run `distributor serve --dev` on a free
    loopback port until the block exits (also on error)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    public_key = (
        _distributor_cli(["keys", "init", "--data", data_dir], env).strip().splitlines()[-1]
    )
    published = json.loads(
        _distributor_cli(
            ["publish", "--data", data_dir, "--json", name, version, image.path], env
        ).splitlines()[-1]
    )
    if published["sha256"] != image.sha256 or int(published["size"]) != image.size:
        raise BenchError(
            f"publish reported {published}, expected sha256 {image.sha256} "
            f"(delete {image.path} and its .json to regenerate the image)"
        )
    log_path = data_dir.parent / "distributor-server.log"
    try:
        with start_local_server(
            data_dir, host="127.0.0.1", dev=True, env=env, log_path=log_path
        ) as server:
            yield PublishedImage(
                server.url, public_key, name, version, image.sha256, image.size, log_path
            )
    except ServerStartFailed as exc:
        raise BenchError(str(exc)) from exc


# --- machine information and output ---------------------------------------------------------


def _first_line(args: Sequence[str]) -> str:
    try:
        done = subprocess.run(list(args), capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0].strip() if lines else "unknown"


def _proc_field(path: str, field: str) -> str:
    with contextlib.suppress(OSError):
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == field:
                return value.strip()
    return "unknown"


def _memory_total() -> str:
    kib = _proc_field("/proc/meminfo", "MemTotal").split()[:1]
    return f"{int(kib[0]) / MIB:.1f} GiB" if kib and kib[0].isdigit() else "unknown"


def file_system_of(path: Path) -> str:
    """'ext4 on /dev/vda (mounted at /)' for the file system holding `path`."""
    try:
        done = subprocess.run(
            ["df", "--output=fstype,source,target", str(path)],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        fstype, source, target = done.stdout.strip().splitlines()[-1].split(None, 2)
    except (OSError, subprocess.SubprocessError, ValueError):
        return "unknown"
    return f"{fstype} on {source} (mounted at {target})"


def machine_info(work_dir: Path, interpreter: Path) -> dict[str, Any]:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "nproc": affinity or os.cpu_count(),
        "cpu": _proc_field("/proc/cpuinfo", "model name"),
        "memory": _memory_total(),
        "kernel": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "interpreter": str(interpreter),
        "cache_dir": str(work_dir),
        "file_system": file_system_of(work_dir),
        "curl": " ".join(_first_line(["curl", "--version"]).split()[:2]),
        "sha256sum": _first_line(["sha256sum", "--version"]),
        "openssl": " ".join(_first_line(["openssl", "version"]).split()[:2]),
    }


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(f"{c:<{w}}" for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join(
        [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)]
    )
