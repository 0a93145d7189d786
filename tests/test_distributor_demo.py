"""`distributor demo`: publish and fetch a sample image end to end, then a cache hit."""

from __future__ import annotations

from pathlib import Path

from tests.fixtures.distributor_server import run_cli


def test_demo_publishes_fetches_and_hits_the_cache(tmp_path: Path) -> None:
    done = run_cli("demo", "--dir", str(tmp_path / "demo"), "--size-mib", "2")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("published: sample@1.0 sha256:") for line in lines)
    fetched = next(line for line in lines if line.startswith("fetched:"))
    again = next(line for line in lines if line.startswith("fetched again:"))
    assert "(2097152 bytes)" in fetched and "via cache" in again
    assert lines[-1] == "server stopped"
    assert list((tmp_path / "demo" / "cache").rglob("*"))


def test_sample_image_is_deterministic_and_compressible(tmp_path: Path) -> None:
    import zlib

    for name in ("a", "b"):
        assert run_cli("sample-image", "--size-mib", "1", str(tmp_path / name)).returncode == 0
    content = (tmp_path / "a").read_bytes()
    assert content == (tmp_path / "b").read_bytes() and len(content) == 1 << 20
    assert len(zlib.compress(content)) < len(content) // 2
