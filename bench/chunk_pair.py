"""Build a realistic pair of 1 GiB ext4 images for measuring chunk parameters (docs/chunking.md).

v1: a tree of this machine's `/usr/lib/python3*`, most of `/usr/share` and the smaller programs
of `/usr/bin`, packed with `mke2fs -t ext4 -d TREE IMG 1G` (no loop mount). v2: the same tree after
"package upgrades", from a fixed seed: about 2 % of files edited (text files get lines inserted
and a version string changed; binaries get a few scattered byte runs rewritten, as a rebuild
does), 1 % replaced by other content of similar size, 1 % removed, and new files added (a new
"package": content from `/usr/share/locale`, which v1 does not hold). mke2fs is run again for v2,
so the file system's UUID, hash seed, timestamps and checksums change and files after each
edit move, as in a rebuilt image.

Not responsible for measuring (`bench.chunk_params`). Error contract: a failing command raises
`subprocess.CalledProcessError`. Usage:
`python -m bench.chunk_pair OUT_DIR [packages|scattered] [--reproducible]` (idempotent:
existing images are kept).
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

SEED = 4
SOURCES = ["/usr/lib/python3", "/usr/lib/python3.11", "/usr/share"]
SKIP_SHARE = {"locale", "doc"}
BIN_MAX_BYTES = 2 << 20


def _copy_tree(tree: Path) -> None:
    for source in SOURCES:
        src = Path(source)
        if src.name == "share":
            for child in sorted(src.iterdir()):
                if child.name not in SKIP_SHARE:
                    dst = tree / "usr/share" / child.name
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    if child.is_dir() and not child.is_symlink():
                        shutil.copytree(child, dst, symlinks=True)
                    else:
                        shutil.copy2(child, dst, follow_symlinks=False)
        else:
            shutil.copytree(src, tree / src.relative_to("/"), symlinks=True)
    bin_dir = tree / "usr/bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for program in sorted(Path("/usr/bin").iterdir()):
        regular = program.is_file() and not program.is_symlink()
        if regular and program.stat().st_size <= BIN_MAX_BYTES:
            shutil.copy2(program, bin_dir / program.name)


def _files(tree: Path) -> list[Path]:
    return sorted(p for p in tree.rglob("*") if p.is_file() and not p.is_symlink())


def _edit_text(path: Path, rng: random.Random) -> None:
    lines = path.read_bytes().split(b"\n")
    for _ in range(rng.randint(1, 5)):
        lines.insert(rng.randrange(len(lines) + 1), b"# upgraded %d" % rng.getrandbits(32))
    path.write_bytes(b"\n".join(lines).replace(b"3.11", b"3.12", 1))


def _edit_binary(path: Path, rng: random.Random) -> None:
    data = bytearray(path.read_bytes())
    for _ in range(max(1, len(data) // 16384)):
        at = rng.randrange(len(data))
        run = rng.randint(4, 64)
        data[at : at + run] = rng.randbytes(len(data[at : at + run]))
    path.write_bytes(bytes(data))


def _edit(path: Path, rng: random.Random) -> None:
    if path.stat().st_size == 0:
        return
    head = path.read_bytes()[:4096]
    (_edit_binary if b"\0" in head else _edit_text)(path, rng)


def _add_new_package(tree: Path, rng: random.Random) -> None:
    new_package = tree / "usr/share/locale-new"
    locale = sorted(p for p in Path("/usr/share/locale").rglob("*.mo") if p.is_file())
    for source in rng.sample(locale, min(len(locale), 400)):
        target = new_package / source.relative_to("/usr/share/locale")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def _upgrade_scattered(tree: Path, rng: random.Random) -> None:
    """Worst case for large chunks: changed files spread uniformly over the tree."""
    files = _files(tree)
    rng.shuffle(files)
    count = len(files)
    for path in files[: count * 2 // 100]:
        _edit(path, rng)
    for path in files[count * 2 // 100 : count * 3 // 100]:
        path.write_bytes(rng.randbytes(path.stat().st_size))
    for path in files[count * 3 // 100 : count * 4 // 100]:
        path.unlink()
    _add_new_package(tree, rng)


def _packages(tree: Path) -> list[Path]:
    """Directories that stand for packages: each child of the big shared directories."""
    roots = ["usr/share", "usr/lib/python3/dist-packages", "usr/lib/python3.11"]
    found = [child for root in roots for child in sorted((tree / root).iterdir()) if child.is_dir()]
    return [p for p in found if p.name != "dist-packages"]


def _upgrade_packages(tree: Path, rng: random.Random) -> None:
    """Package upgrades: whole packages (directories) change together, about 4 % of files,
    plus a few scattered files (programs in /usr/bin, as their packages upgrade)."""
    files = _files(tree)
    goal = len(files) * 4 // 100
    packages = _packages(tree)
    rng.shuffle(packages)
    touched = 0
    for package in packages:
        members = _files(package)
        if touched + len(members) > goal * 1.2 or not members:
            continue
        touched += len(members)
        for path in members:
            roll = rng.random()
            if roll < 0.6:
                _edit(path, rng)
            elif roll < 0.8:
                path.write_bytes(rng.randbytes(path.stat().st_size))
            elif roll < 0.9:
                path.unlink()
        (package / "NEWS.upgrade").write_bytes(rng.randbytes(rng.randint(100, 20000)))
        if touched >= goal:
            break
    programs = _files(tree / "usr/bin")
    for path in rng.sample(programs, len(programs) // 50):
        _edit_binary(path, rng)
    _add_new_package(tree, rng)


REPRODUCIBLE_UUID = "5b0b8f3e-7c1d-4a57-9a7e-0c6f1d2e3a4b"


def _mkfs(tree: Path, image: Path, reproducible: bool) -> None:
    """mke2fs -d; `reproducible` fixes the UUID, the directory hash seed and the clock, as a
    project building its images reproducibly would (metadata checksums are seeded by the UUID,
    so a random UUID changes every inode table, directory and extent block)."""
    image.unlink(missing_ok=True)
    fixed = ["-U", REPRODUCIBLE_UUID, "-E", f"hash_seed={REPRODUCIBLE_UUID}"]
    env = {**os.environ, "E2FSPROGS_FAKE_TIME": "1700000000"} if reproducible else None
    subprocess.run(
        [
            "mke2fs",
            "-q",
            "-F",
            "-t",
            "ext4",
            *(fixed if reproducible else []),
            "-d",
            str(tree),
            str(image),
            "1G",
        ],
        check=True,
        env=env,
    )


def build_pair(
    out: Path, scenario: str = "packages", reproducible: bool = False
) -> tuple[Path, Path]:
    """Make (or reuse) `out/v1.img` and `out/v2.img`; `scenario` is `packages` or `scattered`."""
    v1, v2 = out / "v1.img", out / "v2.img"
    if v1.is_file() and v2.is_file():
        return v1, v2
    tree = out / "tree"
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)
    _copy_tree(tree)
    _mkfs(tree, v1, reproducible)
    upgrade = _upgrade_packages if scenario == "packages" else _upgrade_scattered
    upgrade(tree, random.Random(SEED))
    _mkfs(tree, v2, reproducible)
    shutil.rmtree(tree)
    return v1, v2


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/.cache/chunk-pair")
    target.mkdir(parents=True, exist_ok=True)
    scenario = sys.argv[2] if len(sys.argv) > 2 else "packages"
    for image in build_pair(target, scenario, "--reproducible" in sys.argv):
        print(image, os.stat(image).st_size, os.stat(image).st_blocks * 512)
