"""What a host of a `Topology` is limited to: `tc tbf` shaping per direction.

Not responsible for applying it (`Topology` runs `tc`). Error contract: `Shaping` raises
ValueError for a rate that is not positive.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shaping:
    """A token-bucket limit for one direction: `tc ... tbf rate R burst B latency L`.

    `burst_bytes` defaults to the larger of 64 KiB (one GSO super-packet on a veth) and 4 ms of
    traffic at the rate; `latency_ms` bounds how long a packet may wait in the bucket's queue.
    """

    rate_mbit: float
    burst_bytes: int | None = None
    latency_ms: float = 50.0

    def __post_init__(self) -> None:
        if self.rate_mbit <= 0:
            raise ValueError(f"rate must be positive, got {self.rate_mbit} mbit")

    @property
    def burst(self) -> int:
        if self.burst_bytes is not None:
            return self.burst_bytes
        return max(64 * 1024, int(self.rate_mbit * 1_000_000 / 8 * 0.004))

    def tbf_args(self) -> list[str]:
        return [
            "tbf",
            "rate",
            f"{self.rate_mbit:g}mbit",
            "burst",
            str(self.burst),
            "latency",
            f"{self.latency_ms:g}ms",
        ]


@dataclass(frozen=True)
class HostSpec:
    """One host's limits: `upload` shapes its egress, `download` its ingress (None: unlimited)."""

    upload: Shaping | None = None
    download: Shaping | None = None
