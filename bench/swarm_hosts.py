"""The swarm benchmark's hosts: an origin namespace running `distributor serve` and a co-located
`seeder run`, client namespaces running `client-fetch get`, and the origin's interface counter.

What this module is for: starting those processes with the right flags and environment, waiting
for them, and checking what they report (exit code, digest, method). Not responsible for the
topology itself (`tests.netns.Topology` builds and tears down namespaces, bridge and tbf limits,
and kills every process it started) nor for the arithmetic of the report (`bench.swarm`).

Error contract: anything that would make a number meaningless (a server that does not come up, a
client that fails or times out, a wrong digest) raises `BenchError`.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.harness import BenchError, TestImage, clean_env, run_timed, sha256_file
from bench.held_start import HeldStart
from distributor.local_server import distributor_command
from image_format.content_paths import swarm_health_path
from tests.netns import Host

DISTRIBUTOR_PORT = 8080
SWARM_PORT = 6881
ADMIN_TOKEN = "bench-swarm-token-0123456789"
NAME = "bench-swarm"
READY_TIMEOUT_S = 60.0
POLL_S = 0.2


def _http_json(url: str) -> Any:
    return httpx.get(url, timeout=5, trust_env=False).json()


@dataclass
class Origin:
    """The origin host with its distributor (and seeder, once started)."""

    host: Host
    url: str
    data_dir: Path
    public_key: str
    version: str
    image: TestImage
    log_dir: Path

    @property
    def ref(self) -> str:
        return f"{NAME}@{self.version}"

    def version_health(self) -> dict[str, Any]:
        """This version's entry of `/v1/swarm/health`."""
        for entry in _http_json(self.url + swarm_health_path())["versions"]:
            if entry["name"] == NAME and entry["version"] == self.version:
                return dict(entry)
        raise BenchError(f"{self.ref} is not in swarm health")

    def blob_bytes_sent(self) -> int:
        """Body bytes of the image blob the origin's HTTP server sent (web seeds and plain HTTP)."""
        blobs = _http_json(self.url + "/v1/stats/origin")["blobs"]
        return int(blobs.get(self.image.sha256, {}).get("bytes_sent", 0))

    def seeder_uploaded(self) -> int:
        """Payload the seeders reported uploading for this version (reports lag up to 1 s)."""
        return sum(int(s["uploaded_bytes"]) for s in self.version_health()["seeders"])


def _wait(check: Any, what: str, log: Path, timeout_s: float = READY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if check():
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
            raise BenchError(f"timed out waiting for {what}\n{tail}")
        time.sleep(POLL_S)


def start_origin(
    host: Host,
    data_dir: Path,
    image: TestImage,
    version: str,
    log_dir: Path,
    seeder_env: Mapping[str, str],
) -> Origin:
    """Key, publish (public URL = the origin's address), `distributor serve`, `seeder run`
    (co-located: it seeds the distributor's own blob); returns once the tracker lists the seeder."""
    url = f"http://{host.ip}:{DISTRIBUTOR_PORT}"
    env = clean_env()
    cli = distributor_command()
    public_key = run_timed([*cli, "keys", "init", "--data", data_dir], env=env).stdout
    public_key = public_key.strip().splitlines()[-1]
    published = run_timed(
        [
            *cli,
            "publish",
            "--data",
            data_dir,
            "--public-url",
            url,
            "--json",
            NAME,
            version,
            image.path,
        ],
        env=env,
        timeout_s=900,
    )
    if json.loads(published.stdout.splitlines()[-1])["sha256"] != image.sha256:
        raise BenchError(f"publish reported {published.stdout!r}, expected {image.sha256}")
    log_dir.mkdir(parents=True, exist_ok=True)
    server_env = {**env, "DISTRIBUTOR_ADMIN_TOKEN": ADMIN_TOKEN}
    server_log = log_dir / "distributor.log"
    with server_log.open("wb") as log:
        host.popen(
            [
                *cli,
                "serve",
                "--data",
                str(data_dir),
                "--host",
                host.ip,
                "--port",
                str(DISTRIBUTOR_PORT),
                "--public-url",
                url,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=server_env,
        )
    origin = Origin(host, url, data_dir, public_key, version, image, log_dir)
    ready = lambda: httpx.get(url + "/readiness", timeout=1, trust_env=False).status_code == 200  # noqa: E731
    _wait(ready, "the distributor", server_log)
    seeder_log = log_dir / "seeder.log"
    with seeder_log.open("wb") as log:
        host.popen(
            host.python_argv(
                *("seeder", "run", "--distributor", url, "--data", str(data_dir)),
                *("--key", public_key, "--listen", f"{host.ip}:{SWARM_PORT}"),
                *("--seeder-id", "origin", "--token", ADMIN_TOKEN),
                *("--poll-seconds", "0.5", "--report-seconds", "1"),
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**env, **seeder_env},
        )
    _wait(lambda: origin.version_health()["tracker"]["seeders"] >= 1, "the seeder", seeder_log)
    return origin


def _exit_times(
    processes: list[tuple[Host, subprocess.Popen[str]]], started: float, timeout_s: float
) -> dict[str, float]:
    """Seconds from `started` until each process exited, taken by a thread blocked in wait() per
    process: a polling loop (also `Popen.wait` with a timeout, which polls every ≤ 50 ms) would
    add up to its period to the slowest host's time. Late processes are left to the topology's
    teardown, which kills them."""
    exited: dict[str, float] = {}

    def wait(host: Host, process: subprocess.Popen[str]) -> None:
        process.wait()
        exited[host.name] = time.monotonic() - started

    waiters = [threading.Thread(target=wait, args=pair, daemon=True) for pair in processes]
    for waiter in waiters:
        waiter.start()
    for waiter in waiters:
        waiter.join(timeout=max(0.0, started + timeout_s - time.monotonic()))
    late = [host.name for host, _ in processes if host.name not in exited]
    if late:
        raise BenchError(f"clients still running after {timeout_s:.0f} s: {', '.join(late)}")
    return exited


@dataclass(frozen=True)
class ClientRun:
    """One host's `client-fetch get` result and when it exited (seconds after the start)."""

    host: str
    exited_after: float
    result: dict[str, Any]


def client_args(origin: Origin, cache: Path, via: str) -> list[str]:
    """`client-fetch` arguments for one host: get the origin's image into `cache` by `via`."""
    return [
        *("get", origin.ref, "--server", origin.url, "--key", origin.public_key),
        *("--cache", str(cache), "--json", "--via", via),
    ]


def client_settings(host: Host, client_env: Mapping[str, str]) -> dict[str, str]:
    """A host's `client-fetch` environment: this one cleaned, listening on the host's address."""
    return {
        **clean_env(),
        "CLIENT_FETCH_SWARM_LISTEN_INTERFACES": f"{host.ip}:{SWARM_PORT}",
        "CLIENT_FETCH_REPORT_FETCHES": "false",
        **client_env,
    }


@dataclass(frozen=True)
class ClientsRun:
    """A phase's hosts: seconds from the first start to the last exit, each host's run, and with
    a hold, seconds from the first start to the release (else None)."""

    seconds: float
    runs: list[ClientRun]
    released_after: float | None


def run_clients(
    hosts: list[Host],
    origin: Origin,
    cache_root: Path,
    via: str,
    client_env: Mapping[str, str],
    timeout_s: float,
    hold: HeldStart | None = None,
) -> ClientsRun:
    """Start `client-fetch get --via VIA` on every host at once (with `hold`: held before their
    torrents are added, then released together); wait for all; check each result and, once the
    clock has stopped, hash each host's cached image."""
    processes: list[tuple[Host, subprocess.Popen[str]]] = []
    started = time.monotonic()
    for host in hosts:
        args = client_args(origin, cache_root / f"cache-{host.index}", via)
        argv = hold.argv(args) if hold is not None else host.python_argv("client_fetch", *args)
        processes.append(
            (
                host,
                host.popen(
                    argv,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=client_settings(host, client_env),
                ),
            )
        )
    releaser = None
    if hold is not None:
        releaser = hold.release_when_ready(
            [process for _, process in processes], started + timeout_s
        )
    exited = _exit_times(processes, started, timeout_s)
    if releaser is not None:
        releaser.join()  # it ends once every process is ready or one has exited
    runs: list[ClientRun] = []
    for host, process in processes:
        out, err = process.communicate()
        if process.returncode != 0:
            raise BenchError(
                f"{host.name}: client-fetch exited {process.returncode}\n{err[-3000:]}"
            )
        result = json.loads(out.strip().splitlines()[-1])
        digest = str(result["digest"]).removeprefix("sha256:")
        if digest != origin.image.sha256 or result["method"] != via:
            raise BenchError(f"{host.name}: unexpected result {result}")
        runs.append(ClientRun(host.name, exited[host.name], result))
    seconds = max(run.exited_after for run in runs)
    for run in runs:  # after the clock: the bytes in each cache, not what the client said
        if sha256_file(Path(run.result["path"])) != origin.image.sha256:
            raise BenchError(f"{run.host}: the cached image does not hash to the published one")
    released = None
    if hold is not None:
        if hold.released_at is None:
            raise BenchError("the held hosts were never released")
        released = hold.released_at - started
    return ClientsRun(seconds, runs, released)
