"""The swarm benchmark's "start-up not shared" measurement: hosts held before their torrents are
added, released together, plus one host's start-up measured alone.

Why: the benchmark's hosts are namespaces of one machine, so N `client-fetch` start-ups share its
CPUs (8 hosts on 2 CPUs: each host's start of ~0.25-0.35 s takes 1.2-1.9 s), while hosts of
their own start side by side. Holding every host at the point where it adds its torrent
(`bench.held_client`), releasing all of them at once, and adding the start-up of one host that
runs alone, gives the time hosts with CPUs of their own would take: the swarm part is measured
exactly as in the main row (same processes, same code after the release, the download's CPU
still shared).

What it is for: the hold directory, the launcher's argv, releasing the held hosts, timing one
host's start-up alone. Not responsible for starting or checking the clients of a phase
(`bench.swarm_hosts.run_clients`). Error contract: `BenchError` when a host alone does not
reach the hold in time or exits before it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from bench.harness import BenchError, remove
from bench.held_client import READY_PREFIX, RELEASE_NAME
from tests.netns import Host

POLL_SECONDS = 0.001
ALONE_RUNS = 3


class HeldStart:
    """One phase's hold: where held hosts say they are ready, and when they were released."""

    def __init__(self, directory: Path) -> None:
        remove(directory)
        directory.mkdir(parents=True)
        self.directory = directory
        self.released_at: float | None = None
        """`time.monotonic()` when the hosts were released (None until then)."""

    def argv(self, client_args: Sequence[str]) -> list[str]:
        """The command running `client-fetch CLIENT_ARGS` held at this directory."""
        return Host.python_argv("bench.held_client", str(self.directory), *client_args)

    def ready_count(self) -> int:
        return sum(1 for _ in self.directory.glob(f"{READY_PREFIX}*"))

    def release(self) -> None:
        self.released_at = time.monotonic()  # before any held host can go on
        (self.directory / RELEASE_NAME).touch()

    def release_when_ready(
        self, processes: Sequence[subprocess.Popen[str]], deadline: float
    ) -> threading.Thread:
        """A started thread that releases the hosts once all `processes` are held, or at once if
        one of them has exited (so the others are not left waiting) or `deadline` passed."""

        def watch() -> None:
            while self.ready_count() < len(processes):
                if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                    break
                time.sleep(POLL_SECONDS)
            self.release()

        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        return thread


def startup_alone_seconds(
    host: Host,
    client_args: Callable[[Path], list[str]],
    env: Mapping[str, str],
    work: Path,
    timeout_s: float = 60.0,
) -> float:
    """Median over `ALONE_RUNS` of the seconds from starting one held `client-fetch` on `host`,
    with nothing else running, until it is ready to add its torrent; each is then killed.
    `client_args(cache)`: its `client-fetch` arguments with a fresh cache directory `cache`."""
    seconds = []
    for index in range(ALONE_RUNS):
        cache = work / f"alone-cache-{index}"
        hold = HeldStart(work / f"alone-hold-{index}")
        started = time.monotonic()
        process = host.popen(
            hold.argv(client_args(cache)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(env),
        )
        try:
            while hold.ready_count() == 0:
                if process.poll() is not None:
                    err = process.stderr.read() if process.stderr else ""
                    raise BenchError(
                        f"{host.name}: held client exited {process.returncode} before its "
                        f"torrent was added\n{err[-3000:]}"
                    )
                if time.monotonic() - started > timeout_s:
                    raise BenchError(f"{host.name}: held client not ready after {timeout_s:.0f} s")
                time.sleep(POLL_SECONDS)
            seconds.append(time.monotonic() - started)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # its own session (`Host.popen`)
            process.communicate()
            remove(cache)
            remove(hold.directory)
    return statistics.median(seconds)
