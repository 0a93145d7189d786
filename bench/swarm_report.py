"""The swarm benchmark's configurations, measured phases and their report (`bench.swarm`).

What it is for: a configuration's P2P lower bound, a phase's ratios, and the markdown table of a
run's results (also rebuilt from its JSON). Not responsible for measuring anything
(`bench.swarm`, `bench.swarm_hosts`, `bench.held_start`). Pure; no errors of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.harness import markdown_table

GOAL_TIME_RATIO = 1.15
GOAL_ORIGIN_BYTES = 1.2
HELD_LABEL = "start-up not shared"
"""The row whose hosts are held before adding their torrents, released together, and charged one
host's start-up measured alone (`bench.held_start`)."""


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
    released_after_seconds: float | None = None
    """Held phase: seconds from the first start to the release of the held hosts."""
    startup_alone_seconds: float | None = None
    """Held phase: one host's start-up alone, in place of the shared start-ups until the release
    (`seconds` and `exits` are (exit - release) + this)."""

    def time_ratio(self, config: Config) -> float:
        return self.seconds / config.bound_seconds()

    def origin_ratio(self, config: Config) -> float:
        return self.origin_tx_bytes / config.size_bytes


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
            f"{phase.via}: the hosts were held just before adding their torrents and released "
            f"together {phase.released_after_seconds:.2f} s after the start; one host alone got "
            f"there in {phase.startup_alone_seconds:.2f} s, which the row counts instead."
            for phase in phases
            if phase.startup_alone_seconds is not None and phase.released_after_seconds is not None
        ]
        if lines[-1]:
            lines.append("")
    lines += [
        "origin tx: bytes sent by the origin namespace's eth0 (frames, all traffic);",
        "origin HTTP: image bytes its HTTP server sent (web seeds / plain HTTP);",
        "seeder: payload its seeder reported uploading; from peers: clients' bytes from peers.",
    ]
    return "\n".join(lines)
