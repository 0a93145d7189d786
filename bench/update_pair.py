"""Build (once) the update benchmark's pair of ext4 images of a Debian root file system.

v1: `debootstrap --variant=minbase bookworm` from the Debian mirror, then what an image build
does before packing (`apt-get clean`, package lists removed). v2: a copy of v1's tree with
package changes applied in a chroot (`apt-get update`, install `PACKAGES_ADDED`, purge
`PACKAGE_REMOVED`, `apt-get clean`, lists removed). Each tree is packed with
`mke2fs -t ext4 -b 4096 -d TREE -F IMG SIZE` (no loop mount; 4 KiB blocks at every size: below
512 MiB mke2fs would pick 1 KiB ones), reproducibly: fixed UUID and directory hash
seed (`-U`/`-E hash_seed=` = `FS_UUID`) and a fixed clock (`E2FSPROGS_FAKE_TIME`), as a project
building its images reproducibly would. The trees and images are kept under
`bench/.cache/update-pair/` and reused; the images are rebuilt only when missing (or for another
size).

When debootstrap cannot reach the mirror, the pair falls back to `bench.chunk_pair`'s trees (this
machine's /usr, "package upgrades" simulated from a fixed seed), and the result says so
(`PairInfo.kind == "fallback"`).

Not responsible for measuring (`bench.update`). Error contract: `BenchError` for any command
that fails or times out; a /proc mounted for the chroot is unmounted on every exit path
(including SIGTERM, which `bench.update` turns into an exception).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.harness import BenchError, log, remove

MIRROR = "http://deb.debian.org/debian"
SUITE = "bookworm"
PACKAGES_ADDED = ("python3", "curl", "less", "ca-certificates")
PACKAGE_REMOVED = "tzdata"
FS_UUID = "5b0b8f3e-7c1d-4a57-9a7e-0c6f1d2e3a4b"
FAKE_TIME = "1700000000"
PAIR_FORMAT = 1  # bump when the recipe changes, so cached trees and images are rebuilt
DEBOOTSTRAP_TIMEOUT_S = 1800.0
CHROOT_TIMEOUT_S = 1200.0
MKFS_TIMEOUT_S = 600.0
CHROOT_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "DEBIAN_FRONTEND": "noninteractive",
    "LC_ALL": "C",
    "HOME": "/root",
}


@dataclass(frozen=True)
class PairInfo:
    """The pair and how it was made (for the report)."""

    v1: Path
    v2: Path
    size: int
    kind: str  # "debootstrap" or "fallback"
    description: str
    v1_tree_bytes: int
    v2_tree_bytes: int
    mkfs: str

    def as_json(self) -> dict[str, object]:
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}


def run(
    args: Sequence[str | Path],
    *,
    timeout_s: float,
    env: dict[str, str] | None = None,
    log_path: Path | None = None,
) -> str:
    """Run a command with a timeout (its whole process group is killed then); its output goes to
    `log_path` when given. `BenchError` on a non-zero exit or a timeout."""
    argv = [str(arg) for arg in args]
    with contextlib.ExitStack() as stack:
        sink = stack.enter_context(log_path.open("ab")) if log_path else subprocess.PIPE
        proc = subprocess.Popen(
            argv, stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        try:
            out, _ = proc.communicate(timeout=timeout_s)
        except BaseException as exc:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            if isinstance(exc, subprocess.TimeoutExpired):
                raise BenchError(f"{' '.join(argv)}: timed out after {timeout_s:.0f} s") from exc
            raise
    text = out.decode(errors="replace") if out else ""
    if proc.returncode != 0:
        where = f" (log: {log_path})" if log_path else f"\n{text[-3000:]}"
        raise BenchError(f"{' '.join(argv)} exited with {proc.returncode}{where}")
    return text


def tree_bytes(tree: Path) -> int:
    out = run(["du", "-sb", "--apparent-size", tree], timeout_s=300)
    return int(out.split()[0])


# --- chroot -----------------------------------------------------------------------------------


@contextlib.contextmanager
def proc_mounted(tree: Path) -> Iterator[None]:
    """/proc mounted in the chroot for the block (apt and maintainer scripts read it); always
    unmounted after, lazily if busy."""
    target = tree / "proc"
    target.mkdir(exist_ok=True)
    run(["mount", "-t", "proc", "proc", target], timeout_s=30)
    try:
        yield
    finally:
        try:
            run(["umount", target], timeout_s=60)
        except BenchError:
            run(["umount", "-l", target], timeout_s=60)


@contextlib.contextmanager
def no_service_starts(tree: Path) -> Iterator[None]:
    """`policy-rc.d` refusing service starts while packages are changed; removed after."""
    policy = tree / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n", encoding="ascii")
    policy.chmod(0o755)
    try:
        yield
    finally:
        policy.unlink(missing_ok=True)


def chroot(tree: Path, command: str, log_path: Path) -> str:
    with log_path.open("a") as handle:
        handle.write(f"\n$ chroot {tree} sh -c {command!r}\n")
    return run(
        ["chroot", tree, "/bin/sh", "-c", command],
        timeout_s=CHROOT_TIMEOUT_S,
        env=CHROOT_ENV,
        log_path=log_path,
    )


def _finish_tree(tree: Path) -> None:
    """What an image build does before packing: no package cache, no lists, no logs of the run."""
    for pattern in ("var/cache/apt/archives/*.deb", "var/cache/apt/*.bin", "var/lib/apt/lists/*"):
        for path in tree.glob(pattern):
            remove(path)
    (tree / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)


# --- the trees --------------------------------------------------------------------------------


def _debootstrap(tree: Path, log_path: Path) -> None:
    partial = tree.with_name(tree.name + ".partial")
    remove(partial)
    log(f"debootstrap --variant=minbase {SUITE} {partial} {MIRROR} (a few minutes) ...")
    run(
        ["debootstrap", "--variant=minbase", SUITE, partial, MIRROR],
        timeout_s=DEBOOTSTRAP_TIMEOUT_S,
        log_path=log_path,
    )
    _finish_tree(partial)
    partial.rename(tree)


def _apply_changes(v1_tree: Path, v2_tree: Path, log_path: Path) -> None:
    partial = v2_tree.with_name(v2_tree.name + ".partial")
    remove(partial)
    log(f"copying the v1 tree, then in a chroot: install {' '.join(PACKAGES_ADDED)}, ...")
    run(["cp", "-a", v1_tree, partial], timeout_s=600)
    with proc_mounted(partial), no_service_starts(partial):
        chroot(partial, "apt-get update", log_path)
        chroot(
            partial,
            "apt-get install -y --no-install-recommends " + " ".join(PACKAGES_ADDED),
            log_path,
        )
        chroot(partial, f"apt-get purge -y {PACKAGE_REMOVED}", log_path)
        chroot(partial, "apt-get clean", log_path)
    _finish_tree(partial)
    partial.rename(v2_tree)


def mkfs(tree: Path, image: Path, size_mib: int) -> None:
    """`mke2fs -t ext4 -b 4096 -d TREE -F IMG SIZE`, reproducible (fixed UUID, seed, clock)."""
    tmp = image.with_name(image.name + ".tmp")
    remove(tmp)
    env = {**os.environ, "E2FSPROGS_FAKE_TIME": FAKE_TIME}
    run(
        [
            "mke2fs",
            "-q",
            "-F",
            "-t",
            "ext4",
            *("-b", "4096"),
            *("-U", FS_UUID, "-E", f"hash_seed={FS_UUID}"),
            *("-d", tree, tmp, f"{size_mib}M"),
        ],
        timeout_s=MKFS_TIMEOUT_S,
        env=env,
    )
    tmp.rename(image)


MKFS_TEXT = (
    f"mke2fs -t ext4 -b 4096 -U {FS_UUID} -E hash_seed={FS_UUID} -d TREE -F IMG SIZE, "
    f"E2FSPROGS_FAKE_TIME={FAKE_TIME}"
)


def _meta_ok(meta_path: Path, expected: dict[str, object]) -> dict[str, object] | None:
    with contextlib.suppress(OSError, ValueError):
        meta: dict[str, object] = json.loads(meta_path.read_text(encoding="utf-8"))
        if all(meta.get(k) == v for k, v in expected.items()):
            return meta
    return None


def build_pair(
    root: Path, size_mib: int, *, allow_fallback: bool = True, reuse_only: bool = False
) -> PairInfo:
    """Make (or reuse) `root/<size>MiB/{v1,v2}.img` from Debian trees under `root`.
    `reuse_only`: never build; `BenchError` when no cached pair of that size exists."""
    root.mkdir(parents=True, exist_ok=True)
    pair_dir = root / f"{size_mib}MiB"
    v1, v2 = pair_dir / "v1.img", pair_dir / "v2.img"
    image_meta = pair_dir / "images.json"
    expected: dict[str, object] = {
        "format": PAIR_FORMAT,
        "suite": SUITE,
        "added": list(PACKAGES_ADDED),
        "removed": PACKAGE_REMOVED,
        "mkfs": MKFS_TEXT,
    }
    meta = _meta_ok(image_meta, expected)
    if meta is not None and v1.is_file() and v2.is_file():
        return _pair_info(v1, v2, meta)
    fallback = root / "fallback-chunk-pair"
    if reuse_only:
        if size_mib == 1024 and (fallback / "v1.img").is_file():
            return _fallback_pair(fallback)
        raise BenchError(f"--skip-build: no cached pair in {pair_dir}")
    log_path = root / "build.log"
    v1_tree, v2_tree = root / "rootfs-v1", root / "rootfs-v2"
    trees_meta = root / "trees.json"
    tree_recipe = {k: v for k, v in expected.items() if k != "mkfs"}
    if _meta_ok(trees_meta, tree_recipe) is None or not (v1_tree.is_dir() and v2_tree.is_dir()):
        trees_meta.unlink(missing_ok=True)
        remove(v2_tree)
        try:
            if not v1_tree.is_dir():
                _debootstrap(v1_tree, log_path)
            _apply_changes(v1_tree, v2_tree, log_path)
        except BenchError as exc:
            if not allow_fallback or size_mib != 1024:
                raise
            log(f"the Debian pair could not be built ({exc}); FALLING BACK to bench.chunk_pair")
            return _fallback_pair(fallback)
        trees_meta.write_text(json.dumps(tree_recipe) + "\n", encoding="utf-8")
    pair_dir.mkdir(exist_ok=True)
    image_meta.unlink(missing_ok=True)
    log(f"mke2fs -d: v1 and v2 ({size_mib} MiB each) ...")
    mkfs(v1_tree, v1, size_mib)
    mkfs(v2_tree, v2, size_mib)
    meta = {
        **expected,
        "trees_built": time.strftime("%Y-%m-%d", time.gmtime(v2_tree.stat().st_mtime)),
        "v1_tree_bytes": tree_bytes(v1_tree),
        "v2_tree_bytes": tree_bytes(v2_tree),
    }
    image_meta.write_text(json.dumps(meta) + "\n", encoding="utf-8")
    return _pair_info(v1, v2, meta)


def _pair_info(v1: Path, v2: Path, meta: dict[str, object]) -> PairInfo:
    description = (
        f"Debian {SUITE} minbase (debootstrap from {MIRROR}, {meta.get('trees_built')}); "
        f"v2 = v1 + in a chroot `apt-get install {' '.join(PACKAGES_ADDED)}`, "
        f"`apt-get purge {PACKAGE_REMOVED}`, `apt-get clean`; package lists removed from both"
    )
    return PairInfo(
        v1,
        v2,
        v1.stat().st_size,
        "debootstrap",
        description,
        int(str(meta.get("v1_tree_bytes", 0))),
        int(str(meta.get("v2_tree_bytes", 0))),
        MKFS_TEXT,
    )


def _fallback_pair(out: Path) -> PairInfo:
    from bench.chunk_pair import REPRODUCIBLE_UUID
    from bench.chunk_pair import build_pair as build_chunk_pair

    out.mkdir(parents=True, exist_ok=True)
    v1, v2 = build_chunk_pair(out, "packages", reproducible=True)
    return PairInfo(
        v1,
        v2,
        v1.stat().st_size,
        "fallback",
        "FALLBACK (debootstrap could not reach the Debian mirror): bench.chunk_pair 'packages' "
        "pair from this machine's /usr, NOT a debootstrapped Debian root file system",
        0,
        0,
        f"mke2fs -t ext4 -U {REPRODUCIBLE_UUID} -E hash_seed={REPRODUCIBLE_UUID} -d TREE IMG 1G",
    )
