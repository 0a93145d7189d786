"""The `netns_topology` pytest fixture: a factory of namespace topologies torn down after the test.

Usage: `topo = netns_topology(hosts=4, rate_mbit=100)` (keywords as `Topology`; `hosts` may also be
a list of `HostSpec` for per-host limits). Every topology the test made is closed when the test
ends, passed or failed; a teardown that leaves anything behind fails the test. The first use in a
session also removes leftovers of earlier, killed runs (`cleanup_stale` with the default prefix).
`netns_available` alone is for tests that build `Topology` themselves.

Not responsible for skipping: without root, `ip`, `tc` or working `ip netns`, the fixture FAILS
with a message saying what is missing (CI runs as root; a silent skip would hide the swarm tests).
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Iterator, Sequence
from typing import Protocol

import pytest

from tests.netns import commands
from tests.netns.names import DEFAULT_PREFIX
from tests.netns.specs import HostSpec
from tests.netns.state import StaleCleanupError, cleanup_stale
from tests.netns.topology import Topology, TopologyTeardownError

_stale_cleaned = False


class TopologyFactory(Protocol):
    """Builds and starts a `Topology`; the fixture closes it after the test."""

    def __call__(
        self,
        hosts: int | Sequence[HostSpec] = 2,
        *,
        rate_mbit: float | None = None,
        download_mbit: float | None = None,
        burst_bytes: int | None = None,
        latency_ms: float = 50.0,
        driver_address: bool = False,
        prefix: str = DEFAULT_PREFIX,
    ) -> Topology: ...


def netns_unavailable_reason() -> str | None:
    """Why namespace topologies cannot be built here, or None when they can."""
    if os.geteuid() != 0:
        return f"must run as root (euid is {os.geteuid()})"
    for tool in ("ip", "tc", "sysctl"):
        if shutil.which(tool) is None:
            return f"`{tool}` not found on PATH (Debian: iproute2 / procps)"
    try:
        commands.list_namespaces()
    except commands.NetnsCommandError as exc:
        return f"`ip netns` does not work: {exc}"
    return None


def _clean_stale_once() -> None:
    global _stale_cleaned
    if _stale_cleaned:
        return
    _stale_cleaned = True
    try:
        cleanup_stale(DEFAULT_PREFIX)
    except StaleCleanupError as exc:
        warnings.warn(f"leftovers of earlier netns test runs remain: {exc}", stacklevel=2)


@pytest.fixture
def netns_available() -> None:
    """Fail (never skip) unless namespace topologies can be built; clean stale ones once."""
    reason = netns_unavailable_reason()
    if reason is not None:
        pytest.fail(f"network-namespace tests need root and iproute2: {reason}", pytrace=False)
    _clean_stale_once()


@pytest.fixture
def netns_topology(netns_available: None) -> Iterator[TopologyFactory]:
    """A factory of started topologies; all are closed (and checked gone) after the test."""
    made: list[Topology] = []

    def factory(
        hosts: int | Sequence[HostSpec] = 2,
        *,
        rate_mbit: float | None = None,
        download_mbit: float | None = None,
        burst_bytes: int | None = None,
        latency_ms: float = 50.0,
        driver_address: bool = False,
        prefix: str = DEFAULT_PREFIX,
    ) -> Topology:
        topology = Topology(
            hosts,
            rate_mbit=rate_mbit,
            download_mbit=download_mbit,
            burst_bytes=burst_bytes,
            latency_ms=latency_ms,
            driver_address=driver_address,
            prefix=prefix,
        )
        topology.start()
        made.append(topology)
        return topology

    yield factory
    failures: list[str] = []
    for topology in reversed(made):
        try:
            topology.close()
        except TopologyTeardownError as exc:
            failures.append(str(exc))
    if failures:
        pytest.fail("netns teardown left resources behind:\n" + "\n".join(failures))
