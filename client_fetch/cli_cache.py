"""Handlers of `client-fetch pin|unpin|cache ls|verify|gc`: thin shells over `HostCache`."""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any

from client_fetch.cache import HostCache
from client_fetch.errors import ExitCode, FetchError, UsageError
from image_format.names import ImageRef


class NotCached(FetchError):
    """The image is not in the host cache (pin needs a cached image)."""

    exit_code = ExitCode.NOT_FOUND


def versioned_ref(text: str) -> ImageRef:
    """`NAME@VERSION` for pin and unpin; `UsageError` without a version, `InvalidName` when bad."""
    ref = ImageRef.parse(text)
    if ref.version is None:
        raise UsageError(f"{ref}: pin and unpin need NAME@VERSION")
    return ref


def pin(cache: HostCache, task: str, ref: ImageRef) -> int:
    """Pin a cached image under its digest lock (`claim`), so an eviction between finding it and
    pinning it cannot leave a pin on nothing. `NotCached` when it is not (or no longer) cached."""
    assert ref.version is not None
    cached = cache.lookup_ref(ref.name, ref.version)
    if cached is None or cache.claim(cached.digest, cached.size, task) is None:
        raise NotCached(f"{ref} is not in the host cache {cache.root}")
    print(f"pinned {ref} (sha256:{cached.digest[:12]}) for task {task}")
    return ExitCode.OK


def unpin(cache: HostCache, task: str, ref: ImageRef | None) -> int:
    """Release `task`'s pin on `ref`, or all its pins. The digest comes from the ref's recorded
    manifest, which stays while the digest is pinned even when the image itself is gone
    (quarantined by `cache verify`); unpinning is not a use (LRU order unchanged). `NotCached`
    when the cache has no record of `ref`."""
    digest = None
    if ref is not None:
        assert ref.version is not None
        digest = cache.recorded_digest(ref.name, ref.version)
        if digest is None:
            raise NotCached(f"{ref} is not in the host cache {cache.root}")
    released = cache.unpin(task, digest)
    print(f"released {len(released)} pin(s) of task {task}")
    return ExitCode.OK


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {key: _plain(item) for key, item in dataclasses.asdict(value).items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, int | float | str | bool) or value is None:
        return value
    return str(value)


def run(cache: HostCache, action: str, *, as_json: bool) -> int:
    if action == "ls":
        entries = cache.entries()
        if as_json:
            print(json.dumps({"images": _plain(entries)}, sort_keys=True))
            return ExitCode.OK
        print(f"{'DIGEST':14} {'SIZE':>14} {'LAST USED':20} {'PINNED BY':16} NAMES")
        for entry in entries:
            print(
                f"{entry.digest[:12]:14} {entry.size:>14} "
                f"{entry.last_used.strftime('%Y-%m-%d %H:%M:%S'):20} "
                f"{','.join(entry.pinned_by) or '-':16} {' '.join(entry.refs) or '-'}"
            )
        quota = cache.quota_bytes
        limit = f" of a {quota}-byte quota" if quota is not None else " (no quota)"
        print(
            f"{len(entries)} image(s) in {cache.root}, {cache.usage_bytes()} bytes on disk{limit}",
            file=sys.stderr,
        )
        return ExitCode.OK
    if action == "verify":
        results = cache.verify()
        bad = [result for result in results if result.status != "ok"]
        if as_json:
            print(json.dumps({"results": _plain(results)}, sort_keys=True))
        else:
            for result in results:
                where = f" -> {result.quarantined_to}" if result.quarantined_to else ""
                print(f"{result.status:8} {result.digest}{where}")
            print(f"{len(results) - len(bad)} ok, {len(bad)} failed", file=sys.stderr)
        return ExitCode.VERIFICATION_FAILED if bad else ExitCode.OK
    report = cache.gc()
    print(json.dumps(_plain(report), sort_keys=True, indent=None if as_json else 1))
    return ExitCode.OK
