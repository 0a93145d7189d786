"""Host cache: commit, lookup, refs, pins, listing (single process)."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest

from client_fetch.cache import HostCache
from image_format.errors import InvalidDigest, InvalidName, ManifestMalformed, ManifestMismatch


def envelope(name: str, version: str, data: bytes) -> bytes:
    signed = {
        "name": name,
        "version": version,
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "kind": "raw",
    }
    return json.dumps({"signed": signed, "signatures": []}).encode()


def commit(cache: HostCache, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    partial = cache.partial_path(digest)
    partial.write_bytes(data)
    cache.promote(digest, partial)
    return digest


@pytest.fixture
def cache(tmp_path: Path) -> HostCache:
    return HostCache(tmp_path / "cache")


def test_promote_commits_read_only_and_lookup_finds_it(cache: HostCache) -> None:
    data = b"image bytes" * 100
    digest = hashlib.sha256(data).hexdigest()
    assert cache.lookup(digest, len(data)) is None
    partial = cache.partial_path(digest)
    partial.write_bytes(data)
    path = cache.promote(digest, partial)
    assert path == cache.root / "images" / digest
    assert not partial.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert cache.lookup(digest, len(data)) == path
    assert path.read_bytes() == data
    assert (cache.root / "access" / digest).exists()


def test_lookup_touches_the_access_stamp(cache: HostCache) -> None:
    digest = commit(cache, b"x" * 10)
    stamp = cache.root / "access" / digest
    os.utime(stamp, (1000, 1000))
    cache.lookup(digest, 10)
    assert stamp.stat().st_mtime > 1000


def test_wrong_size_is_quarantined_not_served(cache: HostCache) -> None:
    digest = commit(cache, b"abc")
    assert cache.lookup(digest, 4) is None
    assert not (cache.root / "images" / digest).exists()
    quarantined = list((cache.root / "quarantine").iterdir())
    assert [p.name.split(".")[0] for p in quarantined] == [digest]
    assert quarantined[0].read_bytes() == b"abc"


def test_promote_refuses_a_partial_of_another_digest(cache: HostCache) -> None:
    data = b"one"
    other = hashlib.sha256(b"two").hexdigest()
    partial = cache.partial_path(hashlib.sha256(data).hexdigest())
    partial.write_bytes(data)
    with pytest.raises(ValueError, match="refusing to promote"):
        cache.promote(other, partial)
    stray = cache.root / "elsewhere"
    stray.write_bytes(data)
    with pytest.raises(ValueError):
        cache.promote(hashlib.sha256(data).hexdigest(), stray)
    assert not (cache.root / "images").exists() or not any((cache.root / "images").iterdir())


def test_discard_partial(cache: HostCache) -> None:
    digest = hashlib.sha256(b"p").hexdigest()
    cache.partial_path(digest).write_bytes(b"half")
    cache.discard_partial(digest)
    cache.discard_partial(digest)  # idempotent
    assert not cache.partial_path(digest).exists()


def test_record_manifest_and_lookup_ref(cache: HostCache) -> None:
    data = b"debian" * 50
    env = envelope("debian", "12.1", data)
    assert cache.record_manifest("debian", "12.1", env) == hashlib.sha256(data).hexdigest()
    assert cache.lookup_ref("debian", "12.1") is None  # image not committed yet
    digest = commit(cache, data)
    ref = cache.lookup_ref("debian", "12.1")
    assert ref is not None
    assert (ref.digest, ref.size, ref.manifest_bytes) == (digest, len(data), env)
    assert ref.path == cache.root / "images" / digest
    assert cache.lookup_ref("debian", "12.2") is None
    assert not list((cache.root / "manifests" / "debian").glob(".tmp-*"))


def test_record_manifest_rejects_bad_envelopes(cache: HostCache) -> None:
    with pytest.raises(ManifestMalformed):
        cache.record_manifest("a", "1", b"not json")
    with pytest.raises(ManifestMalformed):
        cache.record_manifest("a", "1", json.dumps({"signed": {"name": "a"}}).encode())
    with pytest.raises(ManifestMismatch):
        cache.record_manifest("a", "1", envelope("a", "2", b"x"))
    with pytest.raises(InvalidName):
        cache.record_manifest("../etc", "1", envelope("../etc", "1", b"x"))


def test_invalid_identifiers_are_rejected_before_touching_disk(cache: HostCache) -> None:
    with pytest.raises(InvalidDigest):
        cache.lookup("../../etc/passwd", 1)
    digest = hashlib.sha256(b"").hexdigest()
    for task in ["", "../x", "a/b", ".hidden", "x" * 129, "a..b"]:
        with pytest.raises(InvalidName):
            cache.pin(digest, task)
    assert not cache.root.exists()


def test_pins(cache: HostCache) -> None:
    a = commit(cache, b"a")
    b = commit(cache, b"b")
    cache.pin(a, "task-1")
    cache.pin(b, "task-1", ttl_seconds=3600)
    cache.pin(a, "task-2")
    assert [p.task for p in cache.pins_of(a)] == ["task-1", "task-2"]
    lease = json.loads((cache.root / "pins" / b / "task-1").read_text())
    assert lease["task"] == "task-1" and lease["expires_at"] and lease["pid"] == os.getpid()
    assert cache.unpin("task-2", a) == [a]
    assert sorted(cache.unpin("task-1")) == sorted([a, b])
    assert cache.pins_of(a) == [] and cache.pins_of(b) == []
    assert cache.unpin("task-1") == []


def test_expired_pin_is_ignored(cache: HostCache) -> None:
    a = commit(cache, b"a")
    cache.pin(a, "short", ttl_seconds=0)
    assert cache.pins_of(a) == []


def test_unreadable_pin_counts_as_pinned(cache: HostCache) -> None:
    a = commit(cache, b"a")
    (cache.root / "pins" / a).mkdir(parents=True)
    (cache.root / "pins" / a / "garbled").write_text("{not json")
    assert [p.task for p in cache.pins_of(a)] == ["garbled"]


def test_claim_pins_a_hit_and_not_a_miss(cache: HostCache) -> None:
    a = commit(cache, b"a")
    assert cache.claim(a, 1, "t1") == cache.root / "images" / a
    assert [p.task for p in cache.pins_of(a)] == ["t1"]
    missing = hashlib.sha256(b"zz").hexdigest()
    assert cache.claim(missing, 2, "t1") is None
    assert cache.pins_of(missing) == []


def test_entries_list_refs_and_pins(cache: HostCache) -> None:
    data = b"z" * 5000
    digest = commit(cache, data)
    cache.record_manifest("img", "1", envelope("img", "1", data))
    cache.record_manifest("img", "1b", envelope("img", "1b", data))
    cache.pin(digest, "t")
    [entry] = cache.entries()
    assert entry.digest == digest and entry.size == 5000
    assert entry.allocated_bytes >= 4096
    assert entry.refs == ["img@1", "img@1b"]
    assert entry.pinned_by == ["t"]


def test_empty_cache_is_fine(cache: HostCache) -> None:
    assert cache.entries() == []
    assert cache.lookup_ref("a", "1") is None
    assert cache.usage_bytes() == 0
    assert cache.verify() == []
    assert cache.gc().quota is not None
