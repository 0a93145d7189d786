"""Host cache error contract: disk full and read-only file systems become `CacheError`."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from client_fetch.cache import HostCache
from client_fetch.errors import CacheError, ExitCode


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False)


@pytest.fixture
def tiny_fs(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs (needs root / CAP_SYS_ADMIN); unmounted afterwards."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    result = run("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point))
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip() or result.returncode}")
    try:
        yield mount_point
    finally:
        run("umount", "-l", str(mount_point))


def fill(directory: Path) -> None:
    fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"\1" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)


def envelope(name: str, data: bytes, padding: int = 0) -> bytes:
    signed = {
        "name": name,
        "version": "1",
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "note": "x" * padding,
    }
    return json.dumps({"signed": signed, "signatures": []}).encode()


def test_disk_full_while_recording_a_manifest(tiny_fs: Path) -> None:
    cache = HostCache(tiny_fs / "cache")
    with pytest.raises(CacheError) as caught:
        cache.record_manifest("big", "1", envelope("big", b"x", padding=200_000))
    assert "disk full" in str(caught.value)
    assert caught.value.exit_code == ExitCode.CACHE_ERROR
    assert isinstance(caught.value.__cause__, OSError)
    assert not list((tiny_fs / "cache" / "manifests" / "big").iterdir())  # no tmp left


def test_disk_full_while_pinning_but_a_hit_still_works(tiny_fs: Path) -> None:
    cache = HostCache(tiny_fs / "cache")
    data = b"small image"
    digest = hashlib.sha256(data).hexdigest()
    cache.partial_path(digest).write_bytes(data)
    cache.promote(digest, cache.partial_path(digest))
    (cache.root / "access" / digest).unlink()  # the stamp must be created on a full disk
    fill(tiny_fs)
    assert cache.lookup(digest, len(data)) is not None
    with pytest.raises(CacheError, match="disk full"):
        cache.pin(digest, "task-1")


def test_read_only_cache_is_a_cache_error(tiny_fs: Path) -> None:
    cache = HostCache(tiny_fs / "cache")
    data = b"image"
    digest = hashlib.sha256(data).hexdigest()
    cache.partial_path(digest).write_bytes(data)
    result = run("mount", "-o", "remount,ro", str(tiny_fs))
    if result.returncode != 0:
        pytest.skip(f"cannot remount read-only: {result.stderr.strip()}")
    with pytest.raises(CacheError, match="permission denied"):
        cache.promote(digest, cache.partial_path(digest))
    with pytest.raises(CacheError, match="permission denied"):
        cache.pin(digest, "task-1")
    with pytest.raises(CacheError, match="permission denied"):
        cache.record_manifest("img", "1", envelope("img", data))
    assert cache.lookup(digest, len(data)) is None  # reading still works


def test_a_file_where_a_directory_should_be_is_a_cache_error(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    root.mkdir()
    (root / "pins").write_text("not a directory")
    cache = HostCache(root)
    with pytest.raises(CacheError, match=f"host cache {root}"):
        cache.pin(hashlib.sha256(b"").hexdigest(), "task")
