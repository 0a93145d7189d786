"""Host cache single-flight lock across real processes: one downloader, kill -9, timeout."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from client_fetch.cache import HostCache
from client_fetch.cache.layout import CacheLayout
from client_fetch.cache.locking import DigestLock
from client_fetch.errors import CacheError

DATA = os.urandom(256 * 1024)
DIGEST = hashlib.sha256(DATA).hexdigest()

# One "task": take the lock, look up again, else download (write + count) and promote.
WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from client_fetch.cache import HostCache

    root, digest, source, counter, go = sys.argv[1:6]
    data = Path(source).read_bytes()
    while not Path(go).exists():
        time.sleep(0.002)
    cache = HostCache(Path(root))
    with cache.single_flight(digest, timeout_seconds=20):
        path = cache.lookup(digest, len(data))
        if path is None:
            with open(counter, "a") as handle:
                handle.write("download\\n")
            partial = cache.partial_path(digest)
            with partial.open("wb") as handle:
                handle.write(data[: len(data) // 2])
                time.sleep(0.2)  # other processes pile up on the lock meanwhile
                handle.write(data[len(data) // 2 :])
            path = cache.promote(digest, partial)
            print("downloaded", path)
        else:
            print("hit", path)
    """
)

# Holds the lock (after writing half a partial) until killed.
HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from client_fetch.cache import HostCache

    root, digest, ready = sys.argv[1:4]
    cache = HostCache(Path(root))
    with cache.single_flight(digest, timeout_seconds=5):
        cache.partial_path(digest).write_bytes(b"half")
        Path(ready).write_text("locked")
        time.sleep(60)
    """
)

WAITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from client_fetch.cache import HostCache

    root, digest = sys.argv[1:3]
    cache = HostCache(Path(root))
    with cache.single_flight(digest, timeout_seconds=20):
        found = cache.lookup(digest, 4)
        print("acquired", found, cache.partial_path(digest).read_bytes().decode())
    """
)


def spawn(script: str, *args: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(path: Path, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


def test_eight_processes_download_once(tmp_path: Path) -> None:
    root, source, counter, go = (tmp_path / n for n in ("cache", "src", "count", "go"))
    source.write_bytes(DATA)
    workers = [spawn(WORKER, root, DIGEST, source, counter, go) for _ in range(8)]
    time.sleep(0.3)  # let them import and reach the start line
    go.write_text("go")
    outputs = []
    for worker in workers:
        out, err = worker.communicate(timeout=30)
        assert worker.returncode == 0, err
        outputs.append(out.split()[0])
    assert counter.read_text().splitlines() == ["download"]
    assert sorted(outputs) == ["downloaded"] + ["hit"] * 7
    cache = HostCache(root)
    path = cache.lookup(DIGEST, len(DATA))
    assert path is not None and path.read_bytes() == DATA
    assert not cache.partial_path(DIGEST).exists()


def test_kill_9_of_the_holder_lets_a_waiter_proceed(tmp_path: Path) -> None:
    root, ready = tmp_path / "cache", tmp_path / "ready"
    holder = spawn(HOLDER, root, DIGEST, ready)
    waiter = None
    try:
        wait_for(ready)
        waiter = spawn(WAITER, root, DIGEST)
        time.sleep(0.5)
        assert waiter.poll() is None, "the waiter must wait while the lock is held"
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
        out, err = waiter.communicate(timeout=10)
        assert waiter.returncode == 0, err
        # no image was committed; the partial survives for a resume
        assert out.split() == ["acquired", "None", "half"]
    finally:
        for proc in (holder, waiter):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()


def test_lock_timeout_is_a_cache_error(tmp_path: Path) -> None:
    root, ready = tmp_path / "cache", tmp_path / "ready"
    holder = spawn(HOLDER, root, DIGEST, ready)
    try:
        wait_for(ready)
        cache = HostCache(root)
        started = time.monotonic()
        with pytest.raises(CacheError) as caught, cache.single_flight(DIGEST, timeout_seconds=0.3):
            pass
        assert 0.3 <= time.monotonic() - started < 2.0
        assert f"timed out waiting for another download of {DIGEST}" in str(caught.value)
        assert f"pid {holder.pid}" in str(caught.value)
        # the lock is free again once the holder is gone
        holder.kill()
        holder.wait(timeout=10)
        with cache.single_flight(DIGEST, timeout_seconds=5):
            pass
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_gc_may_unlink_an_idle_lock_file_under_waiters(tmp_path: Path) -> None:
    cache = HostCache(tmp_path / "cache")
    with cache.single_flight(DIGEST, timeout_seconds=1):
        pass
    lock_file = cache.root / "locks" / f"{DIGEST}.lock"
    assert lock_file.exists()
    cache.gc()
    assert not lock_file.exists()
    with cache.single_flight(DIGEST, timeout_seconds=1):  # recreated on demand
        assert lock_file.exists()


def test_a_waiter_on_an_unlinked_lock_file_starts_over(tmp_path: Path) -> None:
    """Two holders at once would be possible if a waiter trusted a lock file gc had unlinked."""
    layout = CacheLayout(tmp_path / "cache")
    first = DigestLock(layout, DIGEST)
    first.acquire(1)
    waiter = DigestLock(layout, DIGEST)
    acquired = threading.Event()

    def wait() -> None:
        waiter.acquire(10)
        acquired.set()

    thread = threading.Thread(target=wait)
    thread.start()
    time.sleep(0.1)  # the waiter has opened the first inode and polls it
    first.unlink_while_held()
    newcomer = DigestLock(layout, DIGEST)
    assert newcomer.try_acquire()  # a new inode
    first.release()
    time.sleep(0.3)
    assert not acquired.is_set(), "the waiter must not hold the old inode's lock"
    newcomer.release()
    thread.join(timeout=10)
    assert acquired.is_set() and waiter.held
    waiter.release()
