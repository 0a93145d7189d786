"""Running a real `seeder run` child process for tests, and a torrent without its web seeds."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from image_format.bencode import bdecode, bencode
from swarm.download import DownloadReport, download_file
from swarm.errors import SwarmStalled
from tests.fixtures.distributor_server import RunningDistributor
from tests.swarm_helpers import sessions


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def running_seeder(
    dist: RunningDistributor, data_dir: Path, host: str, log_path: Path, *extra: str
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port(host)
    with log_path.open("wb") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "seeder", "run", "--distributor", dist.url,
             "--data", str(data_dir), "--key", dist.public_key, "--listen", f"{host}:{port}",
             "--seeder-id", f"seeder-{port}", "--poll-seconds", "0.5", "--report-seconds", "1",
             "--token", dist.token, *extra],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            yield child, port
        finally:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()


def without_web_seeds(torrent: bytes) -> bytes:
    """The same torrent (same info-hash) with no web seeds: its bytes can only come from peers."""
    decoded = cast(dict[bytes, Any], bdecode(torrent))
    decoded.pop(b"url-list", None)
    return bencode(decoded)


def download_from_seeder(
    torrent: bytes, target: Path, host: str, port: int, octet: int, deadline_seconds: float
) -> DownloadReport:
    """Download with the seeder as the only peer, retrying until it serves the torrent."""
    deadline = time.monotonic() + deadline_seconds
    while True:
        with sessions(octet) as (leecher,):
            try:
                return download_file(
                    leecher,
                    torrent,
                    target,
                    stall_timeout_seconds=3,
                    on_added=lambda t: t.connect_peer(host, port),
                )
            except SwarmStalled:
                if time.monotonic() > deadline:
                    raise
