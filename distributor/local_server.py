"""Running `distributor serve` as a child process on a loopback port (demo, tests, benchmarks).

Not responsible for the server's configuration beyond the flags it passes, nor for keys (the data
directory must already hold a signing key). Error contract: `start_local_server` raises
`ServerStartFailed` (with the server's stderr) when the child exits or is not ready in time; the
context manager always stops the child (SIGTERM, then SIGKILL after `stop_timeout_s`).
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from distributor.api import paths


class ServerStartFailed(RuntimeError):
    """The child server exited or did not become ready; `log` is its stderr so far."""

    def __init__(self, url: str, reason: str, log: str) -> None:
        super().__init__(
            f"distributor at {url} did not start: {reason}\n--- server stderr ---\n{log}"
        )
        self.url = url
        self.reason = reason
        self.log = log


@dataclass
class LocalServer:
    """A started child server: its base URL, process, and the file its output goes to."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def distributor_command() -> list[str]:
    return [sys.executable, "-m", "distributor"]


def _wait_ready(server: LocalServer, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    last = "no answer yet"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerStartFailed(
                server.url, f"exited with code {server.process.returncode}", server.log()
            )
        try:
            answer = httpx.get(server.url + paths.READINESS, timeout=1.0)
            if answer.status_code == 200:
                return
            last = f"/readiness answered {answer.status_code}: {answer.text}"
        except httpx.HTTPError as exc:
            last = f"{type(exc).__name__}: {exc}"
        time.sleep(0.05)
    raise ServerStartFailed(server.url, f"not ready after {timeout_s:.0f} s ({last})", server.log())


def stop_local_server(server: LocalServer, stop_timeout_s: float = 10.0) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(stop_timeout_s)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


@contextlib.contextmanager
def start_local_server(
    data_dir: Path,
    *,
    host: str = "127.0.0.1",
    dev: bool = False,
    env: Mapping[str, str] | None = None,
    extra_args: tuple[str, ...] = (),
    ready_timeout_s: float = 30.0,
    log_path: Path | None = None,
) -> Iterator[LocalServer]:
    """Start `distributor serve` on a free port, wait for /readiness, stop it on exit.

    `env` is the child's whole environment (None: inherit this process's); this module never
    reads the environment itself.
    """
    port = free_port(host)
    url = f"http://{host}:{port}"
    args = [
        *distributor_command(),
        "serve",
        "--data",
        str(data_dir),
        "--host",
        host,
        "--port",
        str(port),
        *(["--dev"] if dev else []),
        *extra_args,
    ]
    log_path = log_path or data_dir / f"server-{port}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            args, stdout=log_file, stderr=subprocess.STDOUT, env=None if env is None else dict(env)
        )
    server = LocalServer(url, process, log_path)
    try:
        _wait_ready(server, ready_timeout_s)
        yield server
    finally:
        stop_local_server(server)
