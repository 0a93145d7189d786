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
and verify. The "swarm, start-up not shared" row runs the swarm phase again with every host held
just before it adds its torrent (`bench.held_client`), all released together, and counts one
host's start-up measured alone (median of 3) plus the release to the last exit: the N hosts
are namespaces of one machine, so their N start-ups (~0.3 s of CPU each) share its CPUs and
the origin idles until they are done, which hosts with CPUs of their own do not pay. The first
row stays the one the goal is judged on. With `--whole-pieces` the swarm hosts run with
libtorrent's default `CLIENT_FETCH_SWARM_WHOLE_PIECES_THRESHOLD_SECONDS=20` (whole pieces, in
runs, instead of the rarest blocks), for comparison.
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
from dataclasses import asdict, replace
from functools import partial
from pathlib import Path
from typing import Any

from bench.harness import (
    MIB,
    ZERO_BLOCK_FRACTION,
    BenchError,
    generate_image,
    log,
    machine_info,
    precompile_project,
    remove,
    script_interpreter,
)
from bench.held_start import HeldStart, startup_alone_seconds
from bench.swarm_hosts import (
    ClientRun,
    client_args,
    client_settings,
    run_clients,
    start_origin,
)
from bench.swarm_report import HELD_LABEL, Config, Phase, render
from tests.netns import HostSpec, Shaping, Topology, cleanup_stale

PREFIX = "vbs-"
WHOLE_PIECES_ENV = {"CLIENT_FETCH_SWARM_WHOLE_PIECES_THRESHOLD_SECONDS": "20"}
"""`--whole-pieces`: hosts ask for whole pieces, in runs (libtorrent's default), not blocks."""
DEFAULT_WORK_DIR = (
    Path("/dev/shm/vid-bench-swarm") if Path("/dev/shm").is_dir() else Path("bench/.cache/swarm")
)
TIMEOUT_FACTOR = 6.0
TIMEOUT_SLACK_S = 60.0


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
    startup_alone: float | None = None,
) -> Phase:
    """`hosts` (default all) fetch `via` at once; a phase with fewer is labelled with its count.
    With `startup_alone` (one host's start-up measured alone) the hosts are held before adding
    their torrents and released together, and the phase counts from the release plus that."""
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
        hold = None if startup_alone is None else HeldStart(work / f"hold-{via}")
        clients_run = run_clients(
            clients, origin, caches, via, client_env, timeout + TIMEOUT_SLACK_S, hold
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
    phase = _phase(label, clients_run.seconds, tx, blob, seeded, clients_run.runs, rates)
    released = clients_run.released_after
    if startup_alone is None or released is None:
        return phase
    shift = startup_alone - released
    return replace(
        phase,
        seconds=phase.seconds + shift,
        first_exit_seconds=phase.first_exit_seconds + shift,
        exits=[round(exit + shift, 2) for exit in phase.exits],
        released_after_seconds=round(released, 3),
        startup_alone_seconds=round(startup_alone, 3),
    )


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
            runs: list[tuple[str, int | None, dict[str, str], str | None, bool]] = [
                ("swarm", None, swarm_env, swarm_label, False),
                ("swarm", None, swarm_env, f"{swarm_label or 'swarm'}, {HELD_LABEL}", True),
            ]
            if not skip_http:
                runs += [("http", None, {}, None, False), ("http", 1, {}, None, False)]
            for via, hosts, env, label, held in runs:
                log(f"{config.label}: {hosts or config.hosts} host(s) fetch --via {via} {env} ...")
                alone = None
                if held:
                    first = topology.hosts[1]
                    alone = startup_alone_seconds(
                        first,
                        partial(client_args, origin, via=via),
                        client_settings(first, env),
                        run_dir,
                    )
                phase = _measure(
                    via,
                    topology,
                    origin,
                    run_dir,
                    config,
                    env,
                    hosts=hosts,
                    label=label,
                    startup_alone=alone,
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
