"""`distributor demo`: publish and fetch a sample image end to end, a cache hit, then an update
that moves only what changed."""

from __future__ import annotations

import re
from pathlib import Path

from tests.fixtures.distributor_server import run_cli


def test_demo_publishes_fetches_hits_the_cache_and_updates(tmp_path: Path) -> None:
    done = run_cli("demo", "--dir", str(tmp_path / "demo"), "--size-mib", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("published: sample@1.0 sha256:") for line in lines)
    fetched = next(line for line in lines if line.startswith("fetched:"))
    again = next(line for line in lines if line.startswith("fetched again:"))
    # The sample is compressible, like a VM image: a cold host moves its stored chunks, not the
    # whole image (plain HTTP would move all 2097152 bytes).
    assert "(2097152 bytes) via chunks, downloaded " in fetched and "via cache" in again
    first = re.search(r"downloaded (\d+) bytes", fetched)
    assert first is not None and 0 < int(first.group(1)) <= 2097152 // 2, fetched
    update = next(line for line in lines if line.startswith("published: sample@1.1"))
    assert "delta patches: from 1.0:" in update
    updated = next(line for line in lines if line.startswith("updated:"))
    found = re.search(r"downloaded (\d+) bytes", updated)
    assert found is not None, updated
    moved = int(found.group(1))
    assert re.search(r"\(2097152 bytes\) via (delta|chunks),", updated), updated
    assert 0 < moved < 2097152 // 4
    assert lines[-1] == "server stopped"
    assert list((tmp_path / "demo" / "cache").rglob("*"))


def test_sample_image_is_deterministic_and_compressible(tmp_path: Path) -> None:
    import zlib

    for name in ("a", "b"):
        assert run_cli("sample-image", "--size-mib", "1", str(tmp_path / name)).returncode == 0
    content = (tmp_path / "a").read_bytes()
    assert content == (tmp_path / "b").read_bytes() and len(content) == 1 << 20
    assert len(zlib.compress(content)) < len(content) // 2
