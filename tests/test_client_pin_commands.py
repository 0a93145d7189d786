"""`client-fetch pin` / `unpin`: pinned under the digest lock, released by ref after a quarantine,
the same usage errors for both."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from client_fetch import cli_cache
from client_fetch.cache import CachedRef, HostCache
from client_fetch.cli import main
from image_format.names import ImageRef

DATA = b"image" * 100_000
DIGEST = hashlib.sha256(DATA).hexdigest()


def cached(root: Path) -> HostCache:
    """A cache holding DATA as img@1."""
    cache = HostCache(root)
    partial = cache.partial_path(DIGEST)
    partial.write_bytes(DATA)
    cache.promote(DIGEST, partial)
    signed = {"name": "img", "version": "1", "sha256": DIGEST, "size": len(DATA)}
    cache.record_manifest("img", "1", json.dumps({"signed": signed, "signatures": []}).encode())
    return cache


class EvictedMeanwhile(HostCache):
    """Another process's quota enforcement evicts the image right after it was looked up."""

    def lookup_ref(self, name: str, version: str, *, touch: bool = True) -> CachedRef | None:
        found = super().lookup_ref(name, version, touch=touch)
        HostCache(self.root, quota_bytes=0).enforce_quota()
        return found


def test_pin_never_reports_a_pin_on_an_image_evicted_meanwhile(tmp_path: Path) -> None:
    cached(tmp_path / "cache")
    cache = EvictedMeanwhile(tmp_path / "cache")
    with pytest.raises(cli_cache.NotCached):
        cli_cache.pin(cache, "T1", ImageRef.parse("img@1"))
    assert not (cache.root / "images" / DIGEST).exists()
    assert cache.pins_of(DIGEST) == []


def test_pin_of_a_cached_image_holds_against_eviction(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = cached(tmp_path / "cache")
    assert main(["pin", "T1", "img@1", "--cache", str(cache.root)]) == 0
    assert "pinned img@1" in capsys.readouterr().out
    assert HostCache(cache.root, quota_bytes=0).enforce_quota().evicted == []


def corrupt(cache: HostCache) -> None:
    image = cache.root / "images" / DIGEST
    image.chmod(0o644)
    with image.open("r+b") as handle:
        handle.write(b"X")


def test_unpin_by_ref_after_the_image_was_quarantined(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = cached(tmp_path / "cache")
    assert cache.claim(DIGEST, len(DATA), "T1") is not None
    corrupt(cache)
    assert main(["cache", "verify", "--cache", str(cache.root)]) == 4  # quarantined
    cache.gc()  # the record of a pinned digest stays, though its image is gone
    capsys.readouterr()

    assert main(["unpin", "T1", "img@1", "--cache", str(cache.root)]) == 0
    assert "released 1 pin(s)" in capsys.readouterr().out
    assert not (cache.root / "pins" / DIGEST).exists()
    assert cache.gc().orphan_manifests == ["img@1"]  # nothing pins it now: an orphan record


@pytest.mark.parametrize("command", ["pin", "unpin"])
@pytest.mark.parametrize("existing", [True, False])
def test_pin_and_unpin_give_the_same_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, existing: bool
) -> None:
    root = cached(tmp_path / "cache").root if existing else tmp_path / "typo"
    assert main([command, "T1", "img", "--cache", str(root)]) == 2
    assert "need NAME@VERSION" in capsys.readouterr().err
    assert main([command, "../T1", "img@1", "--cache", str(root)]) == 2
    assert main([command, "T1", "img@1", "--cache", str(root)]) == (0 if existing else 6)
