"""Per-task leases on images: a pinned image is never evicted."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from client_fetch.cache.fsutil import (
    atomic_write_bytes,
    list_dir,
    remove_empty_dir,
    remove_if_exists,
)
from client_fetch.cache.layout import PINS, TMP_PREFIX, CacheLayout, is_digest, validate_task
from client_fetch.cache.oserrors import cache_errors
from client_fetch.cache.records import Pin


class PinStore:
    """Lease files `pins/<digest>/<task>` (JSON: task, created, expires_at or null, pid).

    For: recording which tasks use which images, with an optional time to live, so eviction can
    skip them. Expired pins protect nothing and are removed by `remove_expired` (gc). A lease file
    that cannot be parsed counts as a pin without expiry: garbage never makes an image evictable.

    Not responsible for: the race between pinning and eviction; pin while holding the digest's
    single-flight lock (eviction re-reads pins under that lock), as `HostCache.claim` does. `pid`
    is informational only: the task outlives the fetcher process that pinned.

    Error contract: invalid task ids raise `InvalidName`, invalid digests `InvalidDigest`;
    file-system failures raise `CacheError`.
    """

    def __init__(self, layout: CacheLayout) -> None:
        self._layout = layout

    def pin(self, digest: str, task: str, ttl_seconds: float | None = None) -> Pin:
        now = datetime.now(UTC)
        expires = None if ttl_seconds is None else now + timedelta(seconds=ttl_seconds)
        lease = Pin(digest, validate_task(task), now, expires, os.getpid())
        body = {
            "task": lease.task,
            "created": now.isoformat(),
            "expires_at": None if expires is None else expires.isoformat(),
            "pid": lease.pid,
        }
        with cache_errors(self._layout.root, f"cannot pin {digest} for task {task}"):
            atomic_write_bytes(self._layout.pin(digest, task), json.dumps(body).encode())
        return lease

    def unpin(self, task: str, digest: str | None = None) -> list[str]:
        """Remove `task`'s pin on `digest`, or on every image; return the digests unpinned."""
        validate_task(task)
        digests = [digest] if digest is not None else self._pinned_digests()
        removed = []
        with cache_errors(self._layout.root, f"cannot unpin task {task}"):
            for each in digests:
                if remove_if_exists(self._layout.pin(each, task)):
                    removed.append(each)
                    remove_empty_dir(self._layout.pin_dir(each))
        return removed

    def pins_of(self, digest: str, now: datetime | None = None) -> list[Pin]:
        """Unexpired pins on `digest`."""
        moment = now or datetime.now(UTC)
        return [p for p in self._all_of(digest) if not p.expired(moment)]

    def remove_expired(self) -> list[str]:
        """Delete expired lease files and empty pin directories; return "digest/task" names."""
        now = datetime.now(UTC)
        removed = []
        with cache_errors(self._layout.root, "cannot remove expired pins"):
            for digest in self._pinned_digests():
                for lease in self._all_of(digest):
                    path = self._layout.pin(digest, lease.task)
                    if lease.expired(now) and remove_if_exists(path):
                        removed.append(f"{digest}/{lease.task}")
                remove_empty_dir(self._layout.pin_dir(digest))
        return removed

    def pinned_digests(self) -> set[str]:
        """Digests with at least one unexpired pin."""
        now = datetime.now(UTC)
        return {d for d in self._pinned_digests() if self.pins_of(d, now)}

    def _pinned_digests(self) -> list[str]:
        with cache_errors(self._layout.root, "cannot list pins"):
            return [d for d in list_dir(self._layout.dir(PINS)) if is_digest(d)]

    def _all_of(self, digest: str) -> list[Pin]:
        folder = self._layout.pin_dir(digest)
        with cache_errors(self._layout.root, f"cannot read pins of {digest}"):
            return [
                lease
                for task in sorted(list_dir(folder))
                if not task.startswith(TMP_PREFIX)
                and (lease := _read(folder / task, digest, task)) is not None
            ]


def _read(path: Path, digest: str, task: str) -> Pin | None:
    """Parse one lease file; None when it vanished, a permanent pin when it is unreadable."""
    try:
        data = path.read_bytes()
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return None
    try:
        body = json.loads(data)
        created = _aware(datetime.fromisoformat(body["created"]))
        raw_expiry = body.get("expires_at")
        expires = None if raw_expiry is None else _aware(datetime.fromisoformat(raw_expiry))
        pid = body.get("pid")
        return Pin(digest, task, created, expires, pid if isinstance(pid, int) else None)
    except (ValueError, KeyError, TypeError, AttributeError):
        return Pin(digest, task, datetime.fromtimestamp(mtime, UTC), None, None)


def _aware(moment: datetime) -> datetime:
    """Lease times are written in UTC; a hand-written naive time is taken as UTC too."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
