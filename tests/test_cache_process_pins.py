"""Process-bound pins (a delta's base, a seeder's images) end with their process; pins survive
concurrent tidying of empty directories."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from client_fetch.cache import HostCache
from client_fetch.errors import CacheError

DATA = b"base image " * 10_000
DIGEST = hashlib.sha256(DATA).hexdigest()

# Claims DIGEST for a process-bound task, says so, then waits until killed (or stdin closes).
HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from client_fetch.cache import HostCache

    root, digest, size, task = sys.argv[1:5]
    cache = HostCache(Path(root))
    assert cache.claim(digest, int(size), task, process_bound=True) is not None
    print("held", flush=True)
    sys.stdin.read()
    """
)


def committed(root: Path) -> HostCache:
    cache = HostCache(root)
    partial = cache.partial_path(DIGEST)
    partial.write_bytes(DATA)
    cache.promote(DIGEST, partial)
    return cache


def start_holder(root: Path, task: str) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(root), DIGEST, str(len(DATA)), task],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    return holder


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_a_process_pin_protects_while_its_process_lives_and_not_after(
    tmp_path: Path, signum: int
) -> None:
    cache = committed(tmp_path / "cache")
    task = "delta-4242"
    holder = start_holder(cache.root, task)
    try:
        assert [p.task for p in cache.pins_of(DIGEST)] == [task]
        assert cache.pins_of(DIGEST)[0].process_bound
        tight = HostCache(cache.root, quota_bytes=0)
        assert tight.gc().expired_pins == []
        assert tight.enforce_quota().evicted == []
        assert cache.lookup(DIGEST, len(DATA)) is not None
    finally:
        holder.send_signal(signum)
        holder.wait()
    # The process is gone: its pin protects nothing, and gc removes it.
    assert cache.pins_of(DIGEST) == []
    report = HostCache(cache.root, quota_bytes=0).gc()
    assert report.expired_pins == [f"{DIGEST}/{task}"]
    assert report.quota is not None
    assert [entry.digest for entry in report.quota.evicted] == [DIGEST]
    assert not (cache.root / "pins" / DIGEST).exists()


def test_a_process_pin_unpinned_by_its_holder_releases_it(tmp_path: Path) -> None:
    cache = committed(tmp_path / "cache")
    assert cache.claim(DIGEST, len(DATA), "seed-1", process_bound=True) is not None
    other = HostCache(cache.root)  # another process's view: this process holds the lock
    assert [p.task for p in other.pins_of(DIGEST)] == ["seed-1"]
    assert other.gc().expired_pins == []
    assert cache.unpin("seed-1") == [DIGEST]
    assert other.pins_of(DIGEST) == []


def test_a_task_pin_outlives_the_process_that_took_it(tmp_path: Path) -> None:
    cache = committed(tmp_path / "cache")
    script = (
        "import sys; from pathlib import Path; from client_fetch.cache import HostCache; "
        "HostCache(Path(sys.argv[1])).claim(sys.argv[2], int(sys.argv[3]), 'task-1')"
    )
    subprocess.run(
        [sys.executable, "-c", script, str(cache.root), DIGEST, str(len(DATA))], check=True
    )
    assert [p.task for p in cache.pins_of(DIGEST)] == ["task-1"]
    quota = HostCache(cache.root, quota_bytes=0).gc().quota
    assert quota is not None and quota.evicted == []


def _lease(pid: int, task: str) -> str:
    """A process pin as fetchers wrote them before such pins were locked."""
    created = "2024-01-01T00:00:00+00:00"
    return json.dumps({"task": task, "created": created, "expires_at": None, "pid": pid})


def test_unlocked_process_pins_of_earlier_versions_end_with_their_pid(tmp_path: Path) -> None:
    cache = committed(tmp_path / "cache")
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead = int(finished.stdout)
    alive = os.getpid()
    folder = cache.root / "pins" / DIGEST
    folder.mkdir(parents=True)
    (folder / f"delta-{dead}").write_text(_lease(dead, f"delta-{dead}"))
    (folder / f"seed-{alive}").write_text(_lease(alive, f"seed-{alive}"))
    (folder / f"delta-{dead + 1}").write_text(_lease(dead, f"delta-{dead + 1}"))  # not its pid
    assert sorted(p.task for p in cache.pins_of(DIGEST)) == sorted(
        [f"seed-{alive}", f"delta-{dead + 1}"]
    )
    assert cache.gc().expired_pins == [f"{DIGEST}/delta-{dead}"]


def _envelope(name: str, version: str, digest: str = DIGEST) -> bytes:
    signed = {"name": name, "version": version, "sha256": digest, "size": len(DATA)}
    return json.dumps({"signed": signed, "signatures": []}).encode()


@pytest.fixture
def rmdir_before_create(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Another process removes the (empty) directory just after the writer made it and just
    before it creates its temporary file there, once: what unpin and gc do without a lock."""
    real_open = os.open
    removed: list[Path] = []

    def racing_open(path: str | os.PathLike[str], flags: int, *args: int, **kw: int) -> int:
        target = Path(path)
        if target.name.startswith(".tmp-") and not removed:
            target.parent.rmdir()
            removed.append(target.parent)
        return real_open(path, flags, *args, **kw)

    monkeypatch.setattr(os, "open", racing_open)
    return removed


def test_a_pin_is_written_although_its_directory_vanished_meanwhile(
    tmp_path: Path, rmdir_before_create: list[Path]
) -> None:
    cache = committed(tmp_path / "cache")
    cache.pin(DIGEST, "task-b")
    assert rmdir_before_create == [cache.root / "pins" / DIGEST]
    assert [p.task for p in cache.pins_of(DIGEST)] == ["task-b"]


def test_a_manifest_record_is_written_although_its_directory_vanished_meanwhile(
    tmp_path: Path, rmdir_before_create: list[Path]
) -> None:
    cache = committed(tmp_path / "cache")
    cache.record_manifest("img", "1", _envelope("img", "1"))
    assert rmdir_before_create == [cache.root / "manifests" / "img"]
    assert cache.lookup_ref("img", "1") is not None


def _churn(root: str, task: str, rounds: int, errors: multiprocessing.Queue[str]) -> None:
    """Pin and unpin (the last unpin removes `pins/<digest>/`), and record a manifest of an image
    that is not cached (gc removes it and then its empty directory)."""
    cache = HostCache(Path(root))
    absent = hashlib.sha256(b"absent").hexdigest()
    for _ in range(rounds):
        try:
            cache.pin(DIGEST, task)
            cache.unpin(task, DIGEST)
            cache.record_manifest("gone", task, _envelope("gone", task, absent))
        except CacheError as exc:
            errors.put(str(exc))
            return


def test_concurrent_pins_unpins_records_and_gc_never_fail(tmp_path: Path) -> None:
    cache = committed(tmp_path / "cache")
    errors: multiprocessing.Queue[str] = multiprocessing.Queue()
    workers = [
        multiprocessing.Process(target=_churn, args=(str(cache.root), f"t{n}", 300, errors))
        for n in range(4)
    ]
    for worker in workers:
        worker.start()
    while any(worker.is_alive() for worker in workers):
        cache.gc()
    for worker in workers:
        worker.join()
        assert worker.exitcode == 0
    assert errors.empty(), errors.get()
