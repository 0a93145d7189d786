"""A download killed with SIGKILL continues in a new process from its partial file and resume
data."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from swarm.download import download_file
from swarm.torrent_maker import make_torrent
from tests.support import make_image
from tests.swarm_helpers import loopback_session, sessions, sha256_file

SIZE = 8 << 20
CHILD = """
import sys
from pathlib import Path
from swarm.config import SwarmConfig
from swarm.download import download_file
from swarm.session import SwarmSession

torrent, target, resume = (Path(arg) for arg in sys.argv[1:4])
port = int(sys.argv[4])
session = SwarmSession(SwarmConfig("127.0.0.11:0", allow_multiple_connections_per_ip=True))
download_file(
    session, torrent.read_bytes(), target, stall_timeout_seconds=60, resume_file=resume,
    resume_save_seconds=0.5,
    on_progress=lambda done, total: print(done, total, flush=True),
    on_added=lambda t: t.connect_peer("127.0.0.10", port),
)
"""


def test_killed_download_resumes_in_a_new_process(tmp_path: Path) -> None:
    image = tmp_path / "blob"
    digest = make_image(image, SIZE, seed=7)
    made = make_torrent(image, name="img", announce_url=None)
    torrent_file = tmp_path / "img.torrent"
    torrent_file.write_bytes(made.data)
    target, resume = tmp_path / "out.partial", tmp_path / "out.resume"
    seeder = loopback_session(
        10, upload_rate_limit_bytes_per_second=1 << 20, rate_limit_local_peers=True
    )
    try:
        seeder.add_seed(made.data, image)
        child = subprocess.Popen(
            [
                sys.executable,
                "-c",
                CHILD,
                str(torrent_file),
                str(target),
                str(resume),
                str(seeder.listen_port),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        done = 0
        deadline = time.monotonic() + 60
        while done < SIZE * 0.4 or not resume.exists():
            assert time.monotonic() < deadline, "the child made no progress"
            line = child.stdout.readline()
            assert line, f"the child ended early ({child.wait()})"
            done = int(line.split()[0])
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        child.stdout.close()
        assert 0 < done < SIZE
        seeder.close()
        seeder = loopback_session(10)
        seeder.add_seed(made.data, image)
        with sessions(12) as (leecher,):
            report = download_file(
                leecher,
                made.data,
                target,
                stall_timeout_seconds=30,
                resume_file=resume,
                on_added=lambda t: t.connect_peer("127.0.0.10", seeder.listen_port),
            )
    finally:
        seeder.close()
    assert sha256_file(target) == digest
    # What the child verified before its last resume save (every 0.5 s) is not fetched again.
    assert report.bytes_from_peers <= SIZE - done + (2 << 20)
