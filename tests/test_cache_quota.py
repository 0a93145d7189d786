"""Host cache quota: LRU eviction with hysteresis; pins, `keep` and held locks protect."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from client_fetch.cache import HostCache
from client_fetch.cache.layout import CacheLayout
from client_fetch.cache.locking import DigestLock

UNIT = 64 * 1024  # each test image; allocated bytes are measured, not assumed


def make_cache(tmp_path: Path, units: float, low: float = 0.5) -> tuple[HostCache, list[str]]:
    """Five committed images A..E, last used in that order (A least recently)."""
    probe = HostCache(tmp_path / "cache")
    digests = []
    for index, label in enumerate("ABCDE"):
        data = label.encode() * UNIT
        digest = hashlib.sha256(data).hexdigest()
        partial = probe.partial_path(digest)
        partial.write_bytes(data)
        probe.promote(digest, partial)
        os.utime(probe.root / "access" / digest, (1_000_000 + index, 1_000_000 + index))
        signed = {"name": f"img{label}", "version": "1", "sha256": digest, "size": len(data)}
        probe.record_manifest(f"img{label}", "1", json.dumps({"signed": signed}).encode())
        digests.append(digest)
    unit = probe.usage_bytes() // 5
    assert unit >= UNIT
    return HostCache(probe.root, quota_bytes=int(units * unit), low_watermark_fraction=low), digests


def remaining(cache: HostCache) -> list[str]:
    return sorted(entry.digest for entry in cache.entries())


def test_under_quota_nothing_is_evicted(tmp_path: Path) -> None:
    cache, _ = make_cache(tmp_path, units=5)
    report = cache.enforce_quota()
    assert report.evicted == [] and not report.exceeded
    assert report.usage_before == report.usage_after == cache.usage_bytes()


def test_no_quota_means_no_eviction(tmp_path: Path) -> None:
    make_cache(tmp_path, units=1)
    cache = HostCache(tmp_path / "cache")
    assert cache.enforce_quota().evicted == []
    assert len(remaining(cache)) == 5


def test_evicts_lru_down_to_the_low_watermark(tmp_path: Path) -> None:
    cache, (a, b, c, d, e) = make_cache(tmp_path, units=4.5, low=0.5)  # target 2.25 units
    report = cache.enforce_quota()
    assert [entry.digest for entry in report.evicted] == [a, b, c]
    assert report.evicted[0].refs == ["imgA@1"]
    assert remaining(cache) == sorted([d, e])
    assert not report.exceeded and report.usage_after == cache.usage_bytes()
    assert report.usage_after <= 0.5 * report.quota_bytes  # type: ignore[operator]
    assert cache.lookup_ref("imgA", "1") is None
    assert not (cache.root / "manifests" / "imgA" / "1.json").exists()
    assert (cache.root / "manifests" / "imgE" / "1.json").exists()
    # hysteresis: the next enforcement finds room and does nothing
    assert cache.enforce_quota().evicted == []


def test_high_watermark_fraction_one_evicts_just_enough(tmp_path: Path) -> None:
    cache, (a, *_rest) = make_cache(tmp_path, units=4.5, low=1.0)
    assert [entry.digest for entry in cache.enforce_quota().evicted] == [a]


def test_lookup_refreshes_lru_order(tmp_path: Path) -> None:
    cache, (a, b, *_rest) = make_cache(tmp_path, units=4.5, low=1.0)
    assert cache.lookup(a, UNIT) is not None
    assert [entry.digest for entry in cache.enforce_quota().evicted] == [b]


def test_pins_and_keep_protect(tmp_path: Path) -> None:
    cache, (a, b, c, d, e) = make_cache(tmp_path, units=4.5, low=0.5)
    cache.pin(b, "task-1")
    report = cache.enforce_quota(keep={a})
    assert [entry.digest for entry in report.evicted] == [c, d, e]
    assert remaining(cache) == sorted([a, b])


def test_only_protected_images_left_reports_exceeded(tmp_path: Path) -> None:
    cache, digests = make_cache(tmp_path, units=2, low=0.5)
    for digest in digests:
        cache.pin(digest, "task")
    report = cache.enforce_quota()
    assert report.evicted == [] and report.exceeded
    assert len(remaining(cache)) == 5


def test_expired_pins_do_not_protect(tmp_path: Path) -> None:
    cache, (a, b, *_rest) = make_cache(tmp_path, units=4.5, low=1.0)
    cache.pin(a, "old-task", ttl_seconds=0)
    cache.pin(b, "live-task", ttl_seconds=3600)
    assert [entry.digest for entry in cache.enforce_quota().evicted] == [a]


def test_an_image_whose_lock_is_held_is_skipped(tmp_path: Path) -> None:
    cache, (a, b, *_rest) = make_cache(tmp_path, units=4.5, low=1.0)
    lock = DigestLock(CacheLayout(cache.root), a)
    assert lock.try_acquire()
    try:
        assert [entry.digest for entry in cache.enforce_quota().evicted] == [b]
    finally:
        lock.release()


def test_reserve_bytes_makes_room_for_a_download(tmp_path: Path) -> None:
    cache, (a, *_rest) = make_cache(tmp_path, units=5, low=1.0)
    unit = cache.usage_bytes() // 5
    assert [entry.digest for entry in cache.enforce_quota(reserve_bytes=unit).evicted] == [a]


def test_usage_counts_allocated_bytes_of_partials_not_apparent_size(tmp_path: Path) -> None:
    cache, _ = make_cache(tmp_path, units=5, low=1.0)
    before = cache.usage_bytes()
    sparse = cache.partial_path(hashlib.sha256(b"sparse").hexdigest())
    with sparse.open("wb") as handle:
        handle.truncate(1 << 30)  # 1 GiB apparent, nothing allocated
    assert cache.usage_bytes() - before < UNIT
    dense = cache.partial_path(hashlib.sha256(b"dense").hexdigest())
    dense.write_bytes(b"x" * UNIT)
    assert cache.usage_bytes() - before >= UNIT
    (cache.root / "unrelated-file").write_bytes(b"y" * UNIT * 4)
    assert cache.usage_bytes() - before < 2 * UNIT


@pytest.mark.parametrize("fraction", [0.0, 1.5])
def test_bad_low_watermark_is_refused(tmp_path: Path, fraction: float) -> None:
    with pytest.raises(ValueError):
        HostCache(tmp_path, quota_bytes=1, low_watermark_fraction=fraction)
