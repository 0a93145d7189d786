"""Multi-host tests on one machine: hosts in network namespaces on a bridge, rate-limited by tbf.

Only addresses in 198.18.0.0/15 (RFC 2544 benchmarking range) and loopback are ever used. See
`topology.Topology` for what is built and torn down, `fixtures.netns_topology` for the pytest
factory, `state.cleanup_stale` for leftovers of killed runs (also `python -m tests.netns cleanup`).
"""

from tests.netns.host import Host
from tests.netns.specs import HostSpec, Shaping
from tests.netns.state import cleanup_stale
from tests.netns.topology import (
    Topology,
    TopologyError,
    TopologySetupError,
    TopologyTeardownError,
)

__all__ = [
    "Host",
    "HostSpec",
    "Shaping",
    "Topology",
    "TopologyError",
    "TopologySetupError",
    "TopologyTeardownError",
    "cleanup_stale",
]
