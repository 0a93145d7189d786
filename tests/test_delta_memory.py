"""Bounded memory: making and applying a patch between two multi-GiB sparse images stays under
512 MiB of peak RSS (each measured in its own child process with `ru_maxrss`), with the default
settings (two zstd lanes with 32 MiB windows on worker threads)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

IMAGE_BYTES = 3 << 30
DATA_PIECES = 48
PIECE_BYTES = 1 << 20
LIMIT_BYTES = 512 << 20

_CHILD = """
import json, resource, sys
from pathlib import Path
from image_format.delta import apply_delta, make_delta
old, new, patch, out = (Path(a) for a in sys.argv[2:6])
if sys.argv[1] == "make":
    with patch.open("wb") as sink:
        stats = make_delta(old, new, sink)
    result = {"blocks": stats.blocks, "patch_bytes": stats.patch_bytes}
else:
    with patch.open("rb") as source:
        apply_delta(old, source, out)
    result = {"allocated": out.stat().st_blocks * 512}
result["maxrss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps(result))
"""


def _sparse_image(path: Path, pieces: dict[int, bytes]) -> None:
    with path.open("wb") as handle:
        handle.truncate(IMAGE_BYTES)
        for offset, data in pieces.items():
            handle.seek(offset)
            handle.write(data)


def _child(*args: str) -> dict[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, *args], capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, int] = json.loads(done.stdout)
    return result


def test_make_and_apply_stay_under_512_mib_on_a_3_gib_pair(tmp_path: Path) -> None:
    rng = random.Random(9)
    slots = rng.sample(range(IMAGE_BYTES // PIECE_BYTES), DATA_PIECES)
    old_pieces = {slot * PIECE_BYTES: rng.randbytes(PIECE_BYTES) for slot in slots}
    new_pieces = dict(old_pieces)
    for offset in list(new_pieces)[: DATA_PIECES // 3]:  # a third moves elsewhere
        new_pieces[(offset + 7 * PIECE_BYTES) % IMAGE_BYTES] = new_pieces.pop(offset)
    for offset in list(new_pieces)[-DATA_PIECES // 6 :]:  # some are rewritten
        new_pieces[offset] = rng.randbytes(PIECE_BYTES)
    old, new = tmp_path / "old.img", tmp_path / "new.img"
    _sparse_image(old, old_pieces)
    _sparse_image(new, new_pieces)
    patch, out = tmp_path / "patch", tmp_path / "out.img"
    made = _child("make", str(old), str(new), str(patch), str(out))
    assert made["maxrss"] < LIMIT_BYTES, made
    assert made["blocks"]["zero"] * 4096 > IMAGE_BYTES - (DATA_PIECES + 8) * PIECE_BYTES
    applied = _child("apply", str(old), str(new), str(patch), str(out))
    assert applied["maxrss"] < LIMIT_BYTES, applied
    assert applied["allocated"] < 2 * DATA_PIECES * PIECE_BYTES  # holes stay holes
    assert os.path.getsize(out) == IMAGE_BYTES
    _same_pieces(out, new_pieces)


def _same_pieces(path: Path, pieces: dict[int, bytes]) -> None:
    with path.open("rb") as handle:
        for offset, data in pieces.items():
            handle.seek(offset)
            assert handle.read(len(data)) == data
