"""Names and addresses of one topology's resources, derived from a prefix and a random suffix.

What this module is for: the one naming scheme that both `Topology` (which creates resources) and
`cleanup_stale` (which finds leftovers) rely on. A topology id is `<prefix><6 hex>`; its
namespaces are `<id>-h<i>`, the bridge-side veth ends carry the same names in the root namespace,
and the bridge is `<id>-br`. Each topology gets one /24 inside 198.18.0.0/15 (512 of them): host
`i` is `.i+1`, the optional test-driver address in the root namespace is `.254`.

Not responsible for creating anything or for choosing a free subnet (see `state.py`).
Error contract: `TopologyNames` raises `ValueError` when a name would exceed the kernel's
15-character interface-name limit or the subnet cannot hold the hosts.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
from dataclasses import dataclass

IFNAMSIZ_MAX = 15  # IFNAMSIZ (16) minus the terminating NUL
NETNS_RANGE = ipaddress.IPv4Network("198.18.0.0/15")
SUBNET_PREFIXLEN = 24
SUBNET_COUNT = 2 ** (SUBNET_PREFIXLEN - NETNS_RANGE.prefixlen)  # 512 /24s
MAX_HOSTS = 253  # .1 .. .253; .254 is the driver, .255 broadcast
DRIVER_HOST_NUMBER = 254
DEFAULT_PREFIX = "vid-"
SUFFIX_HEX = 6


def subnet_for(index: int) -> ipaddress.IPv4Network:
    """The `index`-th /24 of 198.18.0.0/15 (0 <= index < 512)."""
    if not 0 <= index < SUBNET_COUNT:
        raise ValueError(f"subnet index {index} outside 0..{SUBNET_COUNT - 1}")
    base = int(NETNS_RANGE.network_address) + index * 2 ** (32 - SUBNET_PREFIXLEN)
    return ipaddress.IPv4Network((base, SUBNET_PREFIXLEN))


def id_pattern(prefix: str) -> re.Pattern[str]:
    """Matches any resource name of a topology with this prefix; group 1 is the topology id."""
    return re.compile(rf"^({re.escape(prefix)}[0-9a-f]{{{SUFFIX_HEX}}})-(?:h\d+|br)$")


def new_suffix() -> str:
    return secrets.token_hex(SUFFIX_HEX // 2)


@dataclass(frozen=True)
class TopologyNames:
    """Every name and address one topology of `host_count` hosts uses."""

    topology_id: str
    host_count: int
    subnet_index: int

    def __post_init__(self) -> None:
        if not 1 <= self.host_count <= MAX_HOSTS:
            raise ValueError(f"host count {self.host_count} outside 1..{MAX_HOSTS}")
        longest = max(self.veth(self.host_count - 1), self.bridge, key=len)
        if len(longest) > IFNAMSIZ_MAX:
            raise ValueError(
                f"interface name {longest!r} is longer than {IFNAMSIZ_MAX} characters; "
                "use a shorter prefix"
            )
        subnet_for(self.subnet_index)  # validates the index

    @classmethod
    def create(cls, prefix: str, host_count: int, subnet_index: int) -> TopologyNames:
        return cls(prefix + new_suffix(), host_count, subnet_index)

    @property
    def bridge(self) -> str:
        return f"{self.topology_id}-br"

    def namespace(self, index: int) -> str:
        return f"{self.topology_id}-h{index}"

    def veth(self, index: int) -> str:
        """The bridge-side (root namespace) end of host `index`'s veth pair."""
        return f"{self.topology_id}-h{index}"

    @property
    def subnet(self) -> ipaddress.IPv4Network:
        return subnet_for(self.subnet_index)

    def host_ip(self, index: int) -> str:
        return str(self.subnet.network_address + index + 1)

    @property
    def driver_ip(self) -> str:
        return str(self.subnet.network_address + DRIVER_HOST_NUMBER)

    @property
    def namespaces(self) -> list[str]:
        return [self.namespace(i) for i in range(self.host_count)]

    @property
    def links(self) -> list[str]:
        """Root-namespace interfaces: every bridge-side veth end, then the bridge."""
        return [*(self.veth(i) for i in range(self.host_count)), self.bridge]
