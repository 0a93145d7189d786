"""Staging files of the blob, pack and torrent stores: a sweep removes those whose writer died and
never one a live process is writing; the server sweeps at start (after a kill -9 mid-upload); and
packs and torrents, like blobs, are renamed into place with their directory fsynced before
anything refers to them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from distributor.chunks.pack_store import PackStore
from distributor.storage import staging
from distributor.storage.blob_store import LocalBlobStore
from distributor.torrents.store import TorrentStore
from image_format import content_paths
from tests.fixtures.distributor_server import running_distributor

_HOLDER = """
import sys
from pathlib import Path
from distributor.storage.staging import create_locked_temp
fd, path = create_locked_temp(Path(sys.argv[1]), prefix=sys.argv[2], suffix=sys.argv[3])
print(path, flush=True)
sys.stdin.read()
"""


@pytest.fixture
def holder() -> Iterator[list[subprocess.Popen[str]]]:
    """Other processes, each holding a staging file open and locked, as a live writer does."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        process.kill()
        process.wait(timeout=10)


def _held_elsewhere(
    holders: list[subprocess.Popen[str]], directory: Path, prefix: str, suffix: str = ""
) -> Path:
    process = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(directory), prefix, suffix],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    holders.append(process)
    assert process.stdout is not None
    return Path(process.stdout.readline().strip())


def _left_by_a_dead_writer(directory: Path, name: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(b"half an upload")
    return path


def test_a_sweep_removes_only_files_no_live_writer_holds(
    tmp_path: Path, holder: list[subprocess.Popen[str]]
) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs")
    dead = _left_by_a_dead_writer(blobs.root / "tmp", "blob-dead.part")
    other_process = _held_elsewhere(holder, blobs.root / "tmp", "blob-", ".part")
    writing = blobs.writer()
    writing.write(b"in progress")
    staged = blobs.stage([b"staged, not yet committed"])
    assert blobs.sweep_staging() == [dead]
    assert not dead.exists() and other_process.exists()
    assert len(list((blobs.root / "tmp").iterdir())) == 3
    writing.write(b" and more")
    for survivor in (writing.finish(), staged):
        survivor.commit()
        assert blobs.exists(survivor.digest)

    packs = PackStore(tmp_path / "packs")
    dead_pack = _left_by_a_dead_writer(packs.root, ".pack-dead")
    live_pack = packs.writer()
    live_pack.add("a" * 64, b"frame")
    other_pack = _held_elsewhere(holder, packs.root, ".pack-")
    assert packs.sweep_staging() == [dead_pack]
    assert other_pack.exists() and live_pack.seal()

    torrents = TorrentStore(tmp_path / "torrents")
    fan_out = torrents.path("ab" + "0" * 62).parent
    dead_torrent = _left_by_a_dead_writer(fan_out, ".torrent-dead")
    other_torrent = _held_elsewhere(holder, fan_out, ".torrent-")
    assert torrents.sweep_staging() == [dead_torrent]
    assert other_torrent.exists()

    holder[0].kill()  # the writer dies: its lock goes with it
    holder[0].wait(timeout=10)
    assert blobs.sweep_staging() == [other_process]


def test_a_writer_whose_new_file_was_swept_before_it_locked_makes_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_mkstemp = staging.tempfile.mkstemp
    swept: list[str] = []

    def mkstemp_then_swept(**kwargs: str) -> tuple[int, str]:
        fd, name = real_mkstemp(**kwargs)
        if not swept:
            os.unlink(name)  # a sweep in another process got there between mkstemp and flock
            swept.append(name)
        return fd, name

    monkeypatch.setattr(staging.tempfile, "mkstemp", mkstemp_then_swept)
    fd, path = staging.create_locked_temp(tmp_path, prefix="blob-", suffix=".part")
    os.close(fd)
    assert path.exists() and str(path) != swept[0]


def _slow_body(stop: threading.Event) -> Iterator[bytes]:
    for _ in range(400):
        if stop.is_set():
            return
        yield b"\1" * (64 << 10)
        time.sleep(0.02)


def test_the_server_removes_an_upload_orphaned_by_kill_9_at_start(
    tmp_path: Path, holder: list[subprocess.Popen[str]]
) -> None:
    data = tmp_path / "d"
    tmp = data / "blobs" / "tmp"
    stop = threading.Event()
    with running_distributor(data) as dist:
        url = dist.url + content_paths.version_path("img", "1")

        def upload() -> None:
            with contextlib.suppress(httpx.HTTPError):  # the server dies under it
                httpx.put(url, content=_slow_body(stop), headers=dist.auth, timeout=30)

        thread = threading.Thread(target=upload)
        thread.start()
        deadline = time.monotonic() + 20
        while not (tmp.is_dir() and any(tmp.iterdir())) and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(dist.process.pid, signal.SIGKILL)
        dist.process.wait(timeout=10)
        stop.set()
        thread.join(timeout=30)
    orphans = list(tmp.iterdir())
    assert len(orphans) == 1 and orphans[0].name.startswith("blob-")
    live = _held_elsewhere(holder, tmp, "blob-", ".part")  # another worker, still uploading
    with running_distributor(data) as dist:
        assert sorted(tmp.iterdir()) == [live]
        url = dist.url + content_paths.version_path("img", "1")
        answer = httpx.put(url, content=b"whole", headers=dist.auth, timeout=30)
        assert answer.status_code == 201
    assert sorted(tmp.iterdir()) == [live]


@pytest.fixture
def fsynced_dirs(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Records each directory fsync the stores ask for (the real fsync still happens)."""
    calls: list[Path] = []
    real = staging.fsync_dir

    def recording(path: Path) -> None:
        real(path)
        calls.append(path)

    monkeypatch.setattr(staging, "fsync_dir", recording)
    return calls


def test_a_pack_is_in_place_with_its_directory_fsynced_before_its_rows_are_written(
    tmp_path: Path, fsynced_dirs: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = PackStore(tmp_path / "packs")
    real_record = PackStore._record
    seen_when_recording: list[list[Path]] = []

    def record(self: PackStore, entries: list[tuple[str, object]]) -> None:
        seen_when_recording.append(list(fsynced_dirs))
        real_record(self, entries)  # type: ignore[arg-type]

    monkeypatch.setattr(PackStore, "_record", record)
    writer = store.writer()
    writer.add("a" * 64, b"frame")
    ((_, location),) = writer.seal()
    (fsynced_before_recording,) = seen_when_recording
    assert store.path(location.pack).parent in fsynced_before_recording


def test_a_torrent_and_a_blob_are_in_place_with_their_directory_fsynced(
    tmp_path: Path, fsynced_dirs: list[Path]
) -> None:
    torrents = TorrentStore(tmp_path / "torrents")
    digest = torrents.put(b"d4:infod4:name1:xee")
    assert torrents.path(digest).parent in fsynced_dirs
    fsynced_dirs.clear()
    blobs = LocalBlobStore(tmp_path / "blobs")
    digest, _ = blobs.ingest([b"content"])
    assert blobs.path(digest).parent in fsynced_dirs
