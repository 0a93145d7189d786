"""Swarm benchmark: N namespace hosts fetch one image through the BitTorrent swarm, against the
same hosts fetching it by plain HTTP from the origin, in the same run.

    python -m bench.swarm [--hosts 8] [--size-mib 256] [--origin-mbit 100] [--host-mbit 100]
                          [--host-ingress] [--rows default|all] [--skip-http] [--json]
                          [--whole-pieces] [--zero-fraction 0.25]

Per configuration: one origin namespace (egress limited to U_origin by tbf) runs `distributor
serve` and a co-located `seeder run`; N host namespaces (egress u each; with `--host-ingress` the
same limit on their ingress) run `client-fetch get --via swarm` all at once, then, with fresh
caches, `client-fetch get --via http` all at once (the baseline), then one host alone by HTTP:
the practical floor, one copy of S through the origin's link by TCP plus one client's start-up
and verify. With `--whole-pieces` the swarm hosts run with libtorrent's default
`CLIENT_FETCH_SWARM_WHOLE_PIECES_THRESHOLD_SECONDS=20` (whole pieces, in runs, instead of the
rarest blocks), for comparison.
Reported per way of fetching:

- time ÷ bound: seconds from starting the clients to the last one's exit (each exit means a
  verified image committed to its cache), divided by the P2P lower bound
  max(S/U_origin, S/d_host, N·S/(U_origin + N·u)), d_host = the ingress limit if set, else ∞;
- ÷ bound of S_nz: the same with the image's non-zero bytes S_nz in place of S (the image has
  all-zero 1 MiB blocks, `--zero-fraction`, as VM images do; the swarm never moves all-zero
  pieces, so this is the ratio the goal is judged on); `--zero-fraction 0` makes S_nz = S;
- ÷ one copy: the same seconds divided by the one-host HTTP phase's (how far from that floor);
- origin bytes ÷ S: the tx bytes of the origin namespace's eth0 during the phase (frames: web-seed
  and plain HTTP, tracker, seeder uploads, TCP/IP headers), and for insight the image bytes its
  HTTP server sent and the payload its seeder reported uploading; origin tx ÷ S_nz likewise.

Every process runs in its namespace and is killed, and every namespace removed, when a
configuration ends (also on error or Ctrl-C): `tests.netns.Topology` owns that. Needs root and
iproute2. Work files go to `--work-dir` (default: a directory in /dev/shm, so that the disk of a
small VM is not what is measured).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.harness import (
    MIB,
    ZERO_BLOCK_FRACTION,
    BenchError,
    generate_image,
    log,
    machine_info,
    markdown_table,
    precompile_project,
    remove,
    script_interpreter,
)
from bench.swarm_hosts import (
    ClientRun,
    run_clients,
    start_origin,
)
from tests.netns import HostSpec, Shaping, Topology, cleanup_stale

PREFIX = "vbs-"
WHOLE_PIECES_ENV = {"CLIENT_FETCH_SWARM_WHOLE_PIECES_THRESHOLD_SECONDS": "20"}
"""`--whole-pieces`: hosts ask for whole pieces, in runs (libtorrent's default), not blocks."""
GOAL_TIME_RATIO = 1.15
GOAL_ORIGIN_BYTES = 1.2
DEFAULT_WORK_DIR = (
    Path("/dev/shm/vid-bench-swarm") if Path("/dev/shm").is_dir() else Path("bench/.cache/swarm")
)
TIMEOUT_FACTOR = 6.0
TIMEOUT_SLACK_S = 60.0


@dataclass(frozen=True)
class Config:
    """One configuration (a table row pair): N hosts, limits in Mbit/s (ingress None: none)."""

    hosts: int
    origin_mbit: float
    host_mbit: float
    host_ingress_mbit: float | None
    size_bytes: int

    @property
    def label(self) -> str:
        ingress = "" if self.host_ingress_mbit is None else f"/{self.host_ingress_mbit:g} down"
        return (
            f"N={self.hosts}, origin {self.origin_mbit:g} Mbit, "
            f"hosts {self.host_mbit:g} Mbit{ingress}"
        )

    def bound_seconds(self) -> float:
        """max(S/U_origin, S/d_host, N·S/(U_origin + N·u)) in seconds (Mbit = 10⁶ bit/s)."""
        bits = self.size_bytes * 8
        terms = [
            bits / (self.origin_mbit * 1e6),
            self.hosts * bits / ((self.origin_mbit + self.hosts * self.host_mbit) * 1e6),
        ]
        if self.host_ingress_mbit is not None:
            terms.append(bits / (self.host_ingress_mbit * 1e6))
        return max(terms)


@dataclass(frozen=True)
class Phase:
    """One way of fetching, measured: all hosts from start to the last exit."""

    via: str
    seconds: float
    origin_tx_bytes: int
    origin_blob_bytes: int
    seeder_uploaded_bytes: int
    bytes_from_peers: int
    bytes_from_web_seeds: int
    first_exit_seconds: float
    exits: list[float]
    origin_mbit_per_second: list[int]
    """The origin's eth0 tx rate in each second of the phase (shows stalls and idle tails)."""

    def time_ratio(self, config: Config) -> float:
        return self.seconds / config.bound_seconds()

    def origin_ratio(self, config: Config) -> float:
        return self.origin_tx_bytes / config.size_bytes


def _measure(
    via: str,
    topology: Topology,
    origin: Any,
    work: Path,
    config: Config,
    client_env: dict[str, str],
    *,
    hosts: int | None = None,
    label: str | None = None,
) -> Phase:
    """`hosts` (default all) fetch `via` at once; a phase with fewer is labelled with its count."""
    clients = topology.hosts[1 : 1 + (hosts or config.hosts)]
    if label is None:
        label = via if hosts is None else f"{via}, {hosts} host" + ("s" if hosts > 1 else "")
    caches = work / f"caches-{via}"
    remove(caches)
    caches.mkdir(parents=True)
    origin_host = topology.hosts[0]
    tx_before = origin_host.tx_bytes()
    blob_before = origin.blob_bytes_sent()
    seeded_before = origin.seeder_uploaded()
    timeline: list[tuple[float, int]] = []
    stop = threading.Event()

    def sample() -> None:
        start = time.monotonic()
        while not stop.wait(1.0):
            timeline.append((time.monotonic() - start, origin_host.tx_bytes() - tx_before))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    timeout = TIMEOUT_FACTOR * config.bound_seconds() * (len(clients) if via == "http" else 1)
    try:
        seconds, runs = run_clients(
            clients, origin, caches, via, client_env, timeout + TIMEOUT_SLACK_S
        )
        tx = origin_host.tx_bytes() - tx_before
        stop.set()
        sampler.join()
        time.sleep(1.5)  # the seeder reports every second
        blob = origin.blob_bytes_sent() - blob_before
        seeded = origin.seeder_uploaded() - seeded_before
    finally:
        stop.set()
        remove(caches)
    rates = [
        round((b1 - b0) * 8 / (t1 - t0) / 1e6)
        for (t0, b0), (t1, b1) in zip([(0.0, 0), *timeline], timeline, strict=False)
    ]
    return _phase(label, seconds, tx, blob, seeded, runs, rates)


def _phase(
    via: str,
    seconds: float,
    tx: int,
    blob: int,
    seeded: int,
    runs: list[ClientRun],
    origin_rates: list[int],
) -> Phase:
    def source(key: str) -> int:
        return sum(int(run.result["bytes_by_source"].get(key, 0)) for run in runs)

    exits = sorted(run.exited_after for run in runs)
    return Phase(
        via=via,
        seconds=seconds,
        origin_tx_bytes=tx,
        origin_blob_bytes=blob,
        seeder_uploaded_bytes=seeded,
        bytes_from_peers=source("swarm:peers"),
        bytes_from_web_seeds=source("swarm:web-seeds"),
        first_exit_seconds=exits[0],
        exits=[round(e, 2) for e in exits],
        origin_mbit_per_second=origin_rates,
    )


def run_config(
    config: Config,
    work: Path,
    image_seed: int,
    skip_http: bool,
    whole_pieces: bool = False,
    zero_fraction: float = ZERO_BLOCK_FRACTION,
) -> dict[str, Any]:
    """Build the topology, measure the swarm (and HTTP) phase, tear everything down."""
    work.mkdir(parents=True, exist_ok=True)
    image = generate_image(work, config.size_bytes // MIB, image_seed, zero_fraction)
    origin_spec = HostSpec(upload=Shaping(config.origin_mbit))
    ingress = None if config.host_ingress_mbit is None else Shaping(config.host_ingress_mbit)
    host_spec = HostSpec(upload=Shaping(config.host_mbit), download=ingress)
    specs = [origin_spec] + [host_spec] * config.hosts
    run_dir = work / f"run-{os.getpid()}-{config.hosts}-{config.origin_mbit:g}"
    remove(run_dir)
    phases: list[Phase] = []
    try:
        with Topology(specs, driver_address=True, prefix=PREFIX) as topology:
            log(f"{config.label}: origin {topology.hosts[0].ip}, starting distributor + seeder")
            origin = start_origin(
                topology.hosts[0], run_dir / "origin", image, "1", run_dir / "logs", {}
            )
            swarm_env = WHOLE_PIECES_ENV if whole_pieces else {}
            swarm_label = "swarm, whole pieces" if whole_pieces else None
            runs: list[tuple[str, int | None, dict[str, str], str | None]] = [
                ("swarm", None, swarm_env, swarm_label),
            ]
            if not skip_http:
                runs += [("http", None, {}, None), ("http", 1, {}, None)]
            for via, hosts, env, label in runs:
                log(f"{config.label}: {hosts or config.hosts} host(s) fetch --via {via} {env} ...")
                phase = _measure(
                    via, topology, origin, run_dir, config, env, hosts=hosts, label=label
                )
                log(
                    f"{config.label}: {phase.via} {phase.seconds:.1f} s "
                    f"({phase.time_ratio(config):.2f}x bound), origin "
                    f"{phase.origin_ratio(config):.2f}·S; exits {phase.exits}; origin Mbit/s "
                    f"each second {phase.origin_mbit_per_second}"
                )
                phases.append(phase)
    finally:
        remove(run_dir)
    return {
        "config": asdict(config),
        "label": config.label,
        "bound_seconds": config.bound_seconds(),
        "nonzero_bytes": image.nonzero_bytes,
        "phases": [asdict(phase) for phase in phases],
    }


def configurations(args: argparse.Namespace) -> list[Config]:
    size = args.size_mib * MIB
    ingress = args.host_mbit if args.host_ingress else None
    default = Config(args.hosts, args.origin_mbit, args.host_mbit, ingress, size)
    if args.rows == "default":
        return [default]
    return [
        default,
        Config(args.hosts, 4 * args.origin_mbit, args.host_mbit, ingress, size),
        Config(2 * args.hosts, args.origin_mbit, args.host_mbit, ingress, size),
    ]


def render(results: dict[str, Any]) -> str:
    info = results["machine"]
    lines = [
        f"# swarm benchmark ({results['size_mib']} MiB image)",
        "",
        f"- machine: {info['nproc']} CPUs ({info['cpu']}), {info['memory']} RAM, {info['kernel']}",
        f"- work dir: {info['cache_dir']} — {info['file_system']}",
        f"- goal (first configuration): swarm time ≤ {GOAL_TIME_RATIO}x bound with origin bytes "
        f"≤ {GOAL_ORIGIN_BYTES}·S, judged on the image's non-zero bytes S_nz (all-zero pieces "
        "never cross the network, so the bound of S alone would flatter the swarm)",
        "",
    ]
    for index, entry in enumerate(results["configurations"]):
        config = Config(**entry["config"])
        phases = [Phase(**raw) for raw in entry["phases"]]
        one_copy = next((p.seconds for p in phases if p.via.startswith("http, 1 ")), None)
        nonzero = entry["nonzero_bytes"] / config.size_bytes
        lines += [
            f"## {entry['label']} (bound {entry['bound_seconds']:.1f} s; S_nz = {nonzero:.3f}·S, "
            f"its bound {entry['bound_seconds'] * nonzero:.1f} s)",
            "",
        ]
        rows = []
        for phase in phases:
            nz_time = phase.time_ratio(config) / nonzero
            nz_origin = phase.origin_ratio(config) / nonzero
            met = "yes" if nz_time <= GOAL_TIME_RATIO and nz_origin <= GOAL_ORIGIN_BYTES else "no"
            size = config.size_bytes
            rows.append(
                [
                    phase.via,
                    f"{phase.seconds:.1f}",
                    f"{phase.time_ratio(config):.2f}",
                    f"{nz_time:.2f}",
                    "" if one_copy is None else f"{phase.seconds / one_copy:.2f}",
                    f"{phase.origin_ratio(config):.2f}",
                    f"{nz_origin:.2f}",
                    f"{phase.origin_blob_bytes / size:.2f}",
                    f"{phase.seeder_uploaded_bytes / size:.2f}",
                    f"{phase.bytes_from_peers / size:.2f}",
                    f"{phase.first_exit_seconds:.1f}",
                    met if phase.via == "swarm" and index == 0 else "",
                ]
            )
        headers = [
            "via",
            "seconds",
            "÷ bound",
            "÷ bound of S_nz",
            "÷ one copy",
            "origin tx ÷ S",
            "origin tx ÷ S_nz",
            "origin HTTP ÷ S",
            "seeder ÷ S",
            "from peers ÷ S",
            "first exit s",
            "goal met?",
        ]
        lines += [markdown_table(headers, rows), ""]
    lines += [
        "origin tx: bytes sent by the origin namespace's eth0 (frames, all traffic);",
        "origin HTTP: image bytes its HTTP server sent (web seeds / plain HTTP);",
        "seeder: payload its seeder reported uploading; from peers: clients' bytes from peers.",
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.swarm", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--hosts", type=int, default=8, help="client hosts N (default 8)")
    parser.add_argument("--size-mib", type=int, default=256, help="image size (default 256)")
    parser.add_argument("--origin-mbit", type=float, default=100, help="origin egress (100)")
    parser.add_argument("--host-mbit", type=float, default=100, help="each host's egress (100)")
    parser.add_argument(
        "--host-ingress", action="store_true", help="limit each host's ingress to --host-mbit too"
    )
    parser.add_argument(
        "--rows",
        choices=("default", "all"),
        default="default",
        help="all: also 4x the origin's rate, and 2x the hosts",
    )
    parser.add_argument("--skip-http", action="store_true", help="no plain-HTTP baseline")
    parser.add_argument(
        "--whole-pieces",
        action="store_true",
        help="hosts ask for whole pieces in runs (libtorrent's default), not the rarest blocks",
    )
    parser.add_argument("--seed", type=int, default=1, help="image RNG seed (default 1)")
    parser.add_argument(
        "--zero-fraction",
        type=float,
        default=ZERO_BLOCK_FRACTION,
        help=f"share of all-zero 1 MiB blocks in the image (default {ZERO_BLOCK_FRACTION})",
    )
    parser.add_argument("--work-dir", type=Path, default=DEFAULT_WORK_DIR)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if args.hosts < 1 or args.size_mib < 1 or args.origin_mbit <= 0 or args.host_mbit <= 0:
        parser.error("--hosts, --size-mib and the rates must be positive")
    return args


def run(args: argparse.Namespace) -> dict[str, Any]:
    if os.geteuid() != 0:
        raise BenchError("network namespaces need root")
    cleanup_stale(PREFIX)
    precompile_project()
    work = args.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    results = [
        run_config(c, work, args.seed, args.skip_http, args.whole_pieces, args.zero_fraction)
        for c in configurations(args)
    ]
    return {
        "machine": machine_info(work, script_interpreter(Path(sys.executable))),
        "size_mib": args.size_mib,
        "zero_fraction": args.zero_fraction,
        "configurations": results,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        results = run(args)
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(results, indent=2) if args.json else render(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
