"""Host cache maintenance: `verify` quarantines corrupt images, `gc` removes leftovers only."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from client_fetch.cache import HostCache
from client_fetch.cache.layout import CacheLayout
from client_fetch.cache.locking import DigestLock

OLD = 1_000_000.0  # an mtime far in the past


def commit(cache: HostCache, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    partial = cache.partial_path(digest)
    partial.write_bytes(data)
    cache.promote(digest, partial)
    return digest


def record(cache: HostCache, name: str, data: bytes) -> None:
    digest = hashlib.sha256(data).hexdigest()
    signed = {"name": name, "version": "1", "sha256": digest, "size": len(data)}
    cache.record_manifest(name, "1", json.dumps({"signed": signed, "signatures": []}).encode())


def test_verify_reports_ok_and_quarantines_a_flipped_byte(tmp_path: Path) -> None:
    cache = HostCache(tmp_path / "cache")
    good = commit(cache, b"good" * 1000)
    bad = commit(cache, b"bad!" * 1000)
    path = cache.root / "images" / bad
    os.chmod(path, 0o644)  # committed images are 0444 (root could write anyway)
    with path.open("r+b") as handle:
        handle.seek(1234)
        handle.write(b"\xff")
    os.chmod(path, 0o444)
    missing = hashlib.sha256(b"never").hexdigest()
    seen: list[int] = []
    results = {r.digest: r for r in cache.verify(on_bytes=seen.append)}
    assert results[good].status == "ok"
    assert results[bad].status == "corrupt"
    assert results[bad].actual_digest not in (None, bad)
    quarantined = results[bad].quarantined_to
    assert quarantined is not None and quarantined.parent == cache.root / "quarantine"
    assert quarantined.name.startswith(bad + ".")
    assert quarantined.stat().st_size == 4000  # kept for inspection, not deleted
    assert not path.exists() and cache.lookup(bad, 4000) is None
    assert sum(seen) == 8000
    assert cache.verify([missing, good]) == [
        type(results[good])(missing, "missing"),
        type(results[good])(good, "ok", good),
    ]


def test_gc_removes_stale_unlocked_partials_only(tmp_path: Path) -> None:
    cache = HostCache(tmp_path / "cache")
    stale, locked, young = (hashlib.sha256(n).hexdigest() for n in (b"s", b"l", b"y"))
    for digest in (stale, locked, young):
        cache.partial_path(digest).write_bytes(b"part")
    for digest in (stale, locked):
        os.utime(cache.partial_path(digest), (OLD, OLD))
    downloader = DigestLock(CacheLayout(cache.root), locked)
    assert downloader.try_acquire()
    try:
        report = cache.gc(partial_max_age_seconds=3600)
    finally:
        downloader.release()
    assert report.stale_partials == [stale]
    assert not cache.partial_path(stale).exists()
    assert cache.partial_path(locked).exists()
    assert cache.partial_path(young).exists()


def test_gc_removes_expired_pins_orphans_and_old_tmp_files(tmp_path: Path) -> None:
    cache = HostCache(tmp_path / "cache")
    kept = commit(cache, b"kept")
    record(cache, "kept", b"kept")
    record(cache, "gone", b"never committed")
    (cache.root / "manifests" / "broken").mkdir()
    (cache.root / "manifests" / "broken" / "1.json").write_text("{")
    cache.pin(kept, "expired", ttl_seconds=0)
    cache.pin(kept, "live")
    old_tmp = cache.root / "manifests" / "kept" / ".tmp-1.json.123.abcd"
    new_tmp = cache.root / "pins" / kept / ".tmp-live.99.beef"
    old_tmp.write_text("half")
    new_tmp.write_text("half")
    os.utime(old_tmp, (OLD, OLD))
    stray_stamp = cache.root / "access" / hashlib.sha256(b"evicted").hexdigest()
    stray_stamp.touch()

    report = cache.gc()

    assert report.expired_pins == [f"{kept}/expired"]
    assert [p.task for p in cache.pins_of(kept)] == ["live"]
    assert sorted(report.orphan_manifests) == ["broken@1", "gone@1"]
    assert not (cache.root / "manifests" / "gone").exists()
    assert not (cache.root / "manifests" / "broken").exists()
    assert cache.lookup_ref("kept", "1") is not None
    assert report.stale_tmp_files == ["manifests/kept/.tmp-1.json.123.abcd"]
    assert new_tmp.exists()
    assert not stray_stamp.exists()
    assert report.quota is not None and report.quota.evicted == []


def test_gc_removes_old_quarantine_and_then_enforces_quota(tmp_path: Path) -> None:
    cache = HostCache(tmp_path / "cache")
    digest = commit(cache, b"q")
    assert cache.lookup(digest, 999) is None  # wrong size: quarantined
    assert cache.gc().old_quarantine == []  # young: kept for inspection
    report = cache.gc(quarantine_max_age_seconds=0)
    assert len(report.old_quarantine) == 1 and report.old_quarantine[0].startswith(digest)
    assert not any((cache.root / "quarantine").iterdir())

    small = HostCache(cache.root, quota_bytes=0)
    victim = commit(small, b"v" * 10000)
    gc_report = small.gc()
    assert gc_report.quota is not None
    assert [e.digest for e in gc_report.quota.evicted] == [victim]


def test_kill_9_before_promote_leaves_no_image(tmp_path: Path) -> None:
    """A partial left by a dead downloader is never served as an image and gc finds it later."""
    cache = HostCache(tmp_path / "cache")
    digest = hashlib.sha256(b"full content").hexdigest()
    cache.partial_path(digest).write_bytes(b"full con")  # the process died here
    assert cache.lookup(digest, 12) is None
    assert cache.entries() == []
    os.utime(cache.partial_path(digest), (OLD, OLD))
    assert cache.gc().stale_partials == [digest]


def test_gc_keeps_a_manifest_whose_download_is_under_way(tmp_path: Path) -> None:
    cache = HostCache(tmp_path / "cache")
    data = b"downloading"
    record(cache, "pending", data)
    cache.partial_path(hashlib.sha256(data).hexdigest()).write_bytes(b"down")
    assert cache.gc().orphan_manifests == []
    assert (cache.root / "manifests" / "pending" / "1.json").exists()


def test_gc_removes_a_delta_apply_left_behind_by_a_killed_fetch(tmp_path: Path) -> None:
    cache = HostCache(tmp_path / "cache")
    digest = hashlib.sha256(b"target").hexdigest()
    downloads = cache.partial_path(digest).parent
    leftover = downloads / f".{digest}.partial.x1y2.delta-tmp"
    fresh = downloads / f".{digest}.partial.z3w4.delta-tmp"
    leftover.write_bytes(b"half an image")
    fresh.write_bytes(b"being written")
    os.utime(leftover, (OLD, OLD))

    report = cache.gc()

    assert report.stale_tmp_files == [f"downloads/{leftover.name}"]
    assert not leftover.exists() and fresh.exists()
