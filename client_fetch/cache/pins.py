"""Per-task leases on images: a pinned image is never evicted.

Two kinds of lease share the files `pins/<digest>/<task>`:

- A task's pin (`get --pin TASK`, `client-fetch pin`): it lasts until unpinned or until its time
  to live ends. The fetcher process that wrote it exits long before the task ends, so nothing
  about that process matters (`pid` is informational).
- A process-bound pin (`process_bound=True`): the delta source's `delta-<pid>` on its base while
  a patch applies, `seed`'s `seed-<pid>` on what it seeds. It protects the image only while the
  process that took it lives. That process holds a `flock` on the lease file, taken before the
  file is renamed into place and kept by an open descriptor until it unpins; the kernel drops
  the lock when the process ends, however it ends (kill -9, SIGTERM, a crash). A process-bound
  lease whose lock nobody holds is stale: eviction ignores it and gc removes it. No pid is
  compared, so pid reuse, pid namespaces (containers sharing one cache) or a reboot can neither
  keep a dead holder's pin alive nor make a live holder's pin look dead. (Chosen over a lease
  the holder renews: no renewal thread, no clock, and a stopped holder keeps its pin.)

Leases written before process-bound pins were locked (`delta-<pid>` / `seed-<pid>` naming their
own `pid`, without a `process_bound` field) cannot be probed that way: they are stale once no
process has that pid in this pid namespace (a reused pid keeps them, erring on the side of
keeping the image). Only fetchers of earlier versions write such leases, so this is a migration.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from client_fetch.cache.fsutil import (
    atomic_write_bytes,
    atomic_write_held,
    holder_gone,
    list_dir,
    remove_empty_dir,
    remove_if_exists,
)
from client_fetch.cache.layout import PINS, TMP_PREFIX, CacheLayout, is_digest, validate_task
from client_fetch.cache.locking import DigestLock
from client_fetch.cache.oserrors import cache_errors
from client_fetch.cache.records import Pin

_UNLOCKED_PROCESS_PIN = re.compile(r"(?:delta|seed)-([0-9]+)")


@dataclass(frozen=True)
class _Lease:
    """One lease file as read: the pin, its path, and the pid of an unlocked process pin."""

    pin: Pin
    path: Path
    unlocked_pid: int | None = None


class PinStore:
    """Lease files `pins/<digest>/<task>` (JSON: task, created, expires_at or null, pid,
    process_bound).

    For: recording which tasks use which images, with an optional time to live, so eviction can
    skip them; and process-bound pins (see the module docstring). Stale pins (expired, or bound
    to a process that has ended) protect nothing and are removed by `remove_stale` (gc). A lease
    file that cannot be parsed counts as a pin without expiry: garbage never makes an image
    evictable.

    Not responsible for: the race between pinning and eviction; pin while holding the digest's
    single-flight lock (eviction re-reads pins under that lock), as `HostCache.claim` does.
    A process-bound pin's lock lives in this object: unpin it through the same `PinStore`.

    Error contract: invalid task ids raise `InvalidName`, invalid digests `InvalidDigest`;
    file-system failures raise `CacheError`.
    """

    def __init__(self, layout: CacheLayout) -> None:
        self._layout = layout
        self._held: dict[tuple[str, str], int] = {}  # (digest, task) → locked lease descriptor

    def pin(
        self,
        digest: str,
        task: str,
        ttl_seconds: float | None = None,
        *,
        process_bound: bool = False,
    ) -> Pin:
        now = datetime.now(UTC)
        expires = None if ttl_seconds is None else now + timedelta(seconds=ttl_seconds)
        lease = Pin(digest, validate_task(task), now, expires, os.getpid(), process_bound)
        body = {
            "task": lease.task,
            "created": now.isoformat(),
            "expires_at": None if expires is None else expires.isoformat(),
            "pid": lease.pid,
            "process_bound": process_bound,
        }
        path = self._layout.pin(digest, task)
        data = json.dumps(body).encode()
        with cache_errors(self._layout.root, f"cannot pin {digest} for task {task}"):
            if process_bound:
                held = atomic_write_held(path, data)
                self._release(digest, task)  # a lock on the lease file just replaced
                self._held[(digest, task)] = held
            else:
                atomic_write_bytes(path, data)
                self._release(digest, task)
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
            for held_digest, held_task in list(self._held):
                if held_task == task and digest in (None, held_digest):
                    self._release(held_digest, held_task)
        return removed

    def pins_of(self, digest: str, now: datetime | None = None) -> list[Pin]:
        """Pins on `digest` that protect it: unexpired, and not bound to an ended process."""
        moment = now or datetime.now(UTC)
        with cache_errors(self._layout.root, f"cannot check pins of {digest}"):
            return [lease.pin for lease in self._all_of(digest) if not _stale(lease, moment)]

    def remove_stale(self) -> list[str]:
        """Delete expired leases and those of ended processes, and empty pin directories; return
        "digest/task" names. A process-bound lease is re-checked and removed under the digest's
        lock (skipped while someone holds it), so it never removes a lease just taken again."""
        now = datetime.now(UTC)
        removed = []
        with cache_errors(self._layout.root, "cannot remove stale pins"):
            for digest in self._pinned_digests():
                for lease in self._all_of(digest):
                    if lease.pin.expired(now):
                        gone = remove_if_exists(lease.path)
                    else:
                        gone = _stale(lease, now) and self._remove_locked(digest, lease.pin.task)
                    if gone:
                        removed.append(f"{digest}/{lease.pin.task}")
                remove_empty_dir(self._layout.pin_dir(digest))
        return removed

    def pinned_digests(self) -> set[str]:
        """Digests with at least one pin that protects them."""
        now = datetime.now(UTC)
        return {d for d in self._pinned_digests() if self.pins_of(d, now)}

    def _remove_locked(self, digest: str, task: str) -> bool:
        lock = DigestLock(self._layout, digest)
        if not lock.try_acquire():
            return False
        try:
            path = self._layout.pin(digest, task)
            lease = _read(path, digest, task)
            return lease is not None and _stale(lease, datetime.now(UTC)) and remove_if_exists(path)
        finally:
            lock.release()

    def _release(self, digest: str, task: str) -> None:
        held = self._held.pop((digest, task), None)
        if held is not None:
            os.close(held)  # drops the lock: the lease, if still on disk, is stale from now on

    def _pinned_digests(self) -> list[str]:
        with cache_errors(self._layout.root, "cannot list pins"):
            return [d for d in list_dir(self._layout.dir(PINS)) if is_digest(d)]

    def _all_of(self, digest: str) -> list[_Lease]:
        folder = self._layout.pin_dir(digest)
        with cache_errors(self._layout.root, f"cannot read pins of {digest}"):
            return [
                lease
                for task in sorted(list_dir(folder))
                if not task.startswith(TMP_PREFIX)
                and (lease := _read(folder / task, digest, task)) is not None
            ]


def _stale(lease: _Lease, now: datetime) -> bool:
    """Expired, or bound to a process that has ended (raises OSError when it cannot tell)."""
    if lease.pin.expired(now):
        return True
    if lease.pin.process_bound:
        return holder_gone(lease.path)
    if lease.unlocked_pid is not None:
        return not _process_exists(lease.unlocked_pid)
    return False


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _read(path: Path, digest: str, task: str) -> _Lease | None:
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
        pid = pid if isinstance(pid, int) and not isinstance(pid, bool) else None
        bound = body.get("process_bound") is True
        pin = Pin(digest, task, created, expires, pid, bound)
        return _Lease(pin, path, _unlocked_process_pid(task, pid, "process_bound" in body))
    except (ValueError, KeyError, TypeError, AttributeError):
        return _Lease(Pin(digest, task, datetime.fromtimestamp(mtime, UTC), None, None), path)


def _unlocked_process_pid(task: str, pid: int | None, has_bound_field: bool) -> int | None:
    """The pid of a process pin written before such pins were locked, else None."""
    match = _UNLOCKED_PROCESS_PIN.fullmatch(task)
    if has_bound_field or match is None or pid is None or pid <= 0 or int(match[1]) != pid:
        return None
    return pid


def _aware(moment: datetime) -> datetime:
    """Lease times are written in UTC; a hand-written naive time is taken as UTC too."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
