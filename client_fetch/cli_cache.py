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


def _cached_digest(cache: HostCache, ref: ImageRef) -> str:
    if ref.version is None:
        raise UsageError(f"{ref}: pin and unpin need NAME@VERSION")
    cached = cache.lookup_ref(ref.name, ref.version)
    if cached is None:
        raise NotCached(f"{ref} is not in the host cache {cache.root}")
    return cached.digest


def pin(cache: HostCache, task: str, ref: ImageRef) -> int:
    digest = _cached_digest(cache, ref)
    cache.pin(digest, task)
    print(f"pinned {ref} (sha256:{digest[:12]}) for task {task}")
    return ExitCode.OK


def unpin(cache: HostCache, task: str, ref: ImageRef | None) -> int:
    digest = None
    if ref is not None:  # found through the listing: unpinning is not a use (LRU)
        matches = [entry.digest for entry in cache.entries() if str(ref) in entry.refs]
        if not matches:
            raise NotCached(f"{ref} is not in the host cache {cache.root}")
        digest = matches[0]
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
