"""`client-fetch get --via swarm|auto` as real processes on loopback, each peer on its own
127.0.0.x address: a real distributor (tracker, web seed), a real `seeder run`, real libtorrent.

Every client ends in the fetcher's one verifier; these tests check what the swarm adds: peers
deliver bytes, the web seed alone completes, a corrupt peer costs hash failures (shown in swarm
health) but not the image, a killed download resumes, and `auto` follows the tracker's scrape.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from image_format.bencode import bdecode
from image_format.content_paths import blob_relpath, swarm_health_path, torrent_path
from swarm.session import SwarmSession
from swarm.torrent_maker import piece_length_for
from tests.fixtures.distributor_server import RunningDistributor, publish
from tests.seeder_helpers import running_seeder
from tests.support import CLIENT, ClientRun, cache_state, make_image, run_client
from tests.swarm_helpers import loopback_session, sha256_file, zero_piece_bytes

SIZE = 24 * (1 << 20) + 4321
PIECE = piece_length_for(SIZE)  # of the image's torrent, made at publish
NAME, VERSION = "swarmimg", "1.0"
REF = f"{NAME}@{VERSION}"
SEEDER_HOST = "127.0.0.40"
PEERS, WEB_SEEDS = "swarm:peers", "swarm:web-seeds"


@pytest.fixture
def image(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "image.img"
    return path, make_image(path, SIZE, seed=33)


def client_env(octet: int, **settings: str) -> dict[str, str]:
    """The environment of a client host at 127.0.0.<octet> (CLIENT_FETCH_<KEY> = value)."""
    env = {
        **os.environ,
        "CLIENT_FETCH_SWARM_LISTEN_INTERFACES": f"127.0.0.{octet}:0",
        "CLIENT_FETCH_SWARM_OUTGOING_INTERFACE": f"127.0.0.{octet}",
        "CLIENT_FETCH_SWARM_ALLOW_MULTIPLE_CONNECTIONS_PER_IP": "true",
        "CLIENT_FETCH_SWARM_STALL_TIMEOUT_SECONDS": "15",
        "CLIENT_FETCH_RETRY_ROUNDS": "1",
    }
    env.update({f"CLIENT_FETCH_{key.upper()}": value for key, value in settings.items()})
    return env


def throttled(octet: int, bytes_per_second: int, **settings: str) -> dict[str, str]:
    """A client host whose downloads are rate limited, loopback peers and web seeds included
    (libtorrent exempts local peers unless told otherwise): slow enough to be killed midway."""
    return client_env(
        octet,
        swarm_download_limit_bytes_per_second=str(bytes_per_second),
        swarm_rate_limit_local_peers="true",
        **settings,
    )


def get_args(dist: RunningDistributor, cache: Path, via: str, *extra: str) -> list[str]:
    return [
        "get", REF, "--server", dist.url, "--key", dist.public_key,
        "--cache", str(cache), "--json", "--via", via, *extra,
    ]  # fmt: skip


def get(dist: RunningDistributor, cache: Path, via: str, env: dict[str, str]) -> ClientRun:
    return run_client(*get_args(dist, cache, via), env=env, timeout=60)


def start_get(
    dist: RunningDistributor, cache: Path, via: str, env: dict[str, str], *extra: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLIENT, *get_args(dist, cache, via, *extra)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def finished(child: subprocess.Popen[str], timeout: float = 60) -> ClientRun:
    stdout, stderr = child.communicate(timeout=timeout)
    return ClientRun(child.returncode, stdout, stderr)


def health_of(dist: RunningDistributor) -> dict[str, Any]:
    versions = httpx.get(dist.url + swarm_health_path(), timeout=10).json()["versions"]
    (found,) = [v for v in versions if (v["name"], v["version"]) == (NAME, VERSION)]
    return dict(found)


def wait_for(check: Callable[[], bool], timeout_seconds: float = 20, what: str = "") -> None:
    deadline = time.monotonic() + timeout_seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what or check}"
        time.sleep(0.2)


@pytest.fixture
def seeded(
    distributor: RunningDistributor, image: tuple[Path, str], tmp_path: Path
) -> Iterator[tuple[RunningDistributor, Path, str]]:
    """The image published, a co-located seeder seeding it, the tracker counting it."""
    path, digest = image
    publish(distributor, NAME, VERSION, path)
    log = tmp_path / "seeder.log"
    with running_seeder(distributor, distributor.data_dir, SEEDER_HOST, log):
        wait_for(lambda: health_of(distributor)["tracker"]["seeders"] >= 1, what="the seeder")
        yield distributor, path, digest


def assert_verified(run: ClientRun, image: Path, digest: str) -> dict[str, Any]:
    assert run.returncode == 0, run.stderr
    result = run.json()
    assert result["digest"] == digest and result["size"] == SIZE
    assert sha256_file(Path(result["path"])) == digest
    assert Path(result["path"]).read_bytes() == image.read_bytes()
    return result


def test_seeder_and_three_concurrent_clients_all_verify_and_peers_deliver(
    seeded: tuple[RunningDistributor, Path, str], tmp_path: Path
) -> None:
    dist, image, digest = seeded
    children = [
        start_get(dist, tmp_path / f"cache{octet}", "swarm", client_env(octet))
        for octet in (41, 42, 43)
    ]
    results = [assert_verified(finished(child), image, digest) for child in children]
    assert all(r["method"] == "swarm" for r in results)
    for result in results:
        assert sum(result["bytes_by_source"].values()) == result["bytes_downloaded"]
        assert result["bytes_downloaded"] >= SIZE - zero_piece_bytes(image)
    assert sum(r["bytes_by_source"].get(PEERS, 0) for r in results) > 0
    for octet in (41, 42, 43):
        assert cache_state(tmp_path / f"cache{octet}") == {"images": [digest], "downloads": []}
    wait_for(lambda: health_of(dist)["fetches"]["ok"] == 3, what="three fetch reports")
    health = health_of(dist)
    assert health["fetches"]["by_method"]["swarm"]["ok"] == 3
    assert health["bytes_from_peers"] == sum(r["bytes_by_source"].get(PEERS, 0) for r in results)


def test_no_seeder_the_web_seed_alone_completes(
    distributor: RunningDistributor, image: tuple[Path, str], tmp_path: Path
) -> None:
    path, digest = image
    publish(distributor, NAME, VERSION, path)
    run = get(distributor, tmp_path / "cache", "swarm", client_env(44))
    result = assert_verified(run, path, digest)
    assert result["method"] == "swarm"
    assert result["bytes_by_source"].get(WEB_SEEDS) == SIZE - zero_piece_bytes(path)
    assert result["bytes_by_source"].get(PEERS, 0) == 0


@contextlib.contextmanager
def corrupt_peer(
    dist: RunningDistributor, digest: str, torrent: bytes, workdir: Path, octet: int
) -> Iterator[SwarmSession]:
    """A peer at 127.0.0.<octet> that serves bad bytes it believes good.

    In seed mode libtorrent hashes each piece before its first upload (so it would never send a
    bad one); this peer checks an intact copy first, and then the copy is damaged under it, as a
    failing disk or a malicious host would. One flipped byte in every 64 KiB.
    """
    copy = workdir / "bad-copy"
    shutil.copyfile(dist.data_dir / "blobs" / blob_relpath(digest), copy)
    with loopback_session(octet) as session:
        seeding = session.add_seed(torrent, copy, seed_mode=False)
        wait_for(lambda: seeding.status().is_seeding, 15, "the corrupt peer to check its copy")
        with copy.open("r+b") as handle:
            for offset in range(0, SIZE, 64 << 10):
                handle.seek(offset)
                byte = handle.read(1)
                handle.seek(offset)
                handle.write(bytes([byte[0] ^ 0xFF]))
        assert sha256_file(copy) != digest
        yield session


def test_corrupt_peer_costs_hash_failures_not_the_image(
    distributor: RunningDistributor, image: tuple[Path, str], tmp_path: Path
) -> None:
    path, digest = image
    summary = publish(distributor, NAME, VERSION, path)
    torrent = httpx.get(distributor.url + torrent_path(summary["torrent"]["sha256"])).content
    with corrupt_peer(distributor, digest, torrent, tmp_path, 45):
        wait_for(lambda: health_of(distributor)["tracker"]["seeders"] >= 1, what="the bad peer")
        # libtorrent drops a web seed for good once a piece it helped with fails its hash check
        # (even when the bad blocks came from the peer); a stalled round ends, and the fetcher's
        # next round starts a fresh torrent that resumes from the verified pieces.
        env = client_env(46, retry_rounds="3", swarm_stall_timeout_seconds="8")
        run = get(distributor, tmp_path / "cache", "swarm", env)
    result = assert_verified(run, path, digest)
    assert result["method"] == "swarm"
    assert result["hash_failures"] > 0
    wait_for(lambda: health_of(distributor)["fetches"]["reports"] == 1, what="the fetch report")
    health = health_of(distributor)
    assert health["fetches"]["hash_failures"] == result["hash_failures"]
    assert health["hash_failures"] >= result["hash_failures"]


def test_killed_swarm_download_resumes_and_verifies(
    distributor: RunningDistributor, image: tuple[Path, str], tmp_path: Path
) -> None:
    path, digest = image
    publish(distributor, NAME, VERSION, path)
    cache, progress = tmp_path / "cache", tmp_path / "fraction"
    slow = throttled(47, 4 << 20)
    child = start_get(distributor, cache, "swarm", slow, "--progress-file", str(progress))

    def fraction() -> float:
        try:
            return float(progress.read_text() or 0)
        except (OSError, ValueError):
            return 0.0

    try:
        wait_for(lambda: fraction() >= 0.1 or child.poll() is not None, 30, "10 %")
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate()
    assert child.returncode == -signal.SIGKILL
    state = cache_state(cache)
    assert state["images"] == [] and f"{digest}.partial" in state["downloads"]
    run = get(distributor, cache, "swarm", client_env(47))
    result = assert_verified(run, path, digest)
    assert 0 < result["bytes_downloaded"] < SIZE
    assert cache_state(cache) == {"images": [digest], "downloads": []}


def test_auto_takes_the_swarm_only_with_a_seeder_and_enough_peers(
    distributor: RunningDistributor, image: tuple[Path, str], tmp_path: Path
) -> None:
    path, digest = image
    publish(distributor, NAME, VERSION, path)
    without = get(distributor, tmp_path / "cache-a", "auto", client_env(48))
    assert assert_verified(without, path, digest)["method"] == "http"
    log = tmp_path / "seeder.log"
    with running_seeder(distributor, distributor.data_dir, SEEDER_HOST, log):
        wait_for(lambda: health_of(distributor)["tracker"]["seeders"] >= 1, what="the seeder")
        # One seeder is one peer: below swarm_min_peers 2, HTTP goes first; by default (1),
        # the project's seeder alone is enough, so the first hosts of a crowd grow the swarm.
        small = get(distributor, tmp_path / "cache-b", "auto", client_env(49, swarm_min_peers="2"))
        enough = get(distributor, tmp_path / "cache-c", "auto", client_env(50))
    assert assert_verified(small, path, digest)["method"] == "http"
    assert assert_verified(enough, path, digest)["method"] == "swarm"


def test_a_partial_damaged_between_runs_never_reaches_the_cache(
    distributor: RunningDistributor, image: tuple[Path, str], tmp_path: Path
) -> None:
    """Resume data makes libtorrent trust the pieces a killed run wrote, unread. One of them is
    damaged on disk before the rerun: the fetcher's own piece check must not vouch for it, and
    the image in the cache is the published one."""
    path, digest = image
    publish(distributor, NAME, VERSION, path)
    cache, progress = tmp_path / "cache", tmp_path / "fraction"
    resume = cache / "downloads" / f"{digest}.resume"
    child = start_get(
        distributor, cache, "swarm", throttled(48, 2 << 20), "--progress-file", str(progress)
    )

    def saved_pieces() -> list[int]:
        try:
            data = bdecode(resume.read_bytes(), sorted_keys=False)
        except (OSError, ValueError):
            return []
        bits = data.get(b"pieces", b"") if isinstance(data, dict) else b""
        return [i for i, bit in enumerate(bits if isinstance(bits, bytes) else b"") if bit & 1]

    try:
        wait_for(lambda: len(saved_pieces()) >= 4 or child.poll() is not None, 40, "resume data")
    finally:
        child.send_signal(signal.SIGKILL)
        child.communicate()
    piece = saved_pieces()[1]
    partial = cache / "downloads" / f"{digest}.partial"
    with partial.open("r+b") as handle:
        handle.seek(piece * PIECE + 1000)
        byte = handle.read(1)
        handle.seek(piece * PIECE + 1000)
        handle.write(bytes([byte[0] ^ 0x01]))
    # Either libtorrent re-checks the file and fetches the piece again, or the damaged piece
    # fails our piece check, the whole file is hashed and fails, and the fetcher starts this
    # source again from nothing (the prefix came from an earlier run).
    assert_verified(get(distributor, cache, "swarm", client_env(48)), path, digest)
    assert cache_state(cache) == {"images": [digest], "downloads": []}
