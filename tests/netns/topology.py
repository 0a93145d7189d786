"""N hosts in their own network namespaces on one Linux bridge, with `tc tbf` rate limits.

What this module is for: multi-host tests on one machine. `Topology` (a context manager) makes,
for each host, a namespace `<id>-h<i>`, a veth pair (the host's end is `eth0` inside the namespace,
the other end `<id>-h<i>` joins the bridge `<id>-br`), the address 198.18.X.(i+1)/24 (one /24 per
topology, chosen so that live topologies never overlap), `lo` up and IPv6 off (so nothing but
198.18.0.0/15 traffic reaches the bridge). The root namespace gets no address on the bridge unless
`driver_address=True` (then 198.18.X.254, e.g. for the test process to poll a server).

What is limited: a host's `upload` shaping is a tbf qdisc on `eth0` inside its namespace, i.e. the
host's egress (everything it sends). A host's `download` shaping is a tbf qdisc on the bridge-side
veth end, whose egress is what the bridge delivers to the host, i.e. the host's ingress. Nothing
else is shaped; the bridge itself is unlimited.

`Host.popen` starts processes in the namespace in their own session; `Topology.close` (also on an
exception in the with-block) kills those process groups (SIGTERM, then SIGKILL), SIGKILLs anything
else still in the namespaces, deletes the veths, namespaces and bridge, checks they are gone and
removes the state file that `cleanup_stale` uses to clean up after killed runs.

Not responsible for: routing to anything outside the topology (there is no gateway and no NAT:
the hosts can reach each other, the driver address and their own loopback, nothing else), for
packet loss or delay emulation (netem), or for reaping stale topologies of other runs (see
`state.cleanup_stale`).

Error contract: entering raises `TopologySetupError` (carrying the failing command's stderr) after
removing whatever it had created; `close` always attempts every step and raises
`TopologyTeardownError` naming what is left when something could not be removed. Leaving the
with-block because of an exception never replaces that exception: a teardown failure is then
reported as a `ResourceWarning` and the state file stays for `cleanup_stale`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.netns import commands, state
from tests.netns.host import HOST_INTERFACE, Host
from tests.netns.names import DEFAULT_PREFIX, TopologyNames
from tests.netns.specs import HostSpec, Shaping

TERM_GRACE_S = 3.0


class TopologyError(RuntimeError):
    """Base class of this module's errors."""


class TopologySetupError(TopologyError):
    """Building the topology failed; what had been created was removed again."""


class TopologyTeardownError(TopologyError):
    """Some resources survived teardown; `leftovers` names them (state file kept)."""

    def __init__(self, message: str, leftovers: list[str]) -> None:
        super().__init__(message)
        self.leftovers = leftovers


class Topology:
    """A bridge with N namespaced hosts; see the module docstring for the full contract."""

    def __init__(
        self,
        hosts: int | Sequence[HostSpec] = 2,
        *,
        rate_mbit: float | None = None,
        download_mbit: float | None = None,
        burst_bytes: int | None = None,
        latency_ms: float = 50.0,
        driver_address: bool = False,
        prefix: str = DEFAULT_PREFIX,
    ) -> None:
        if isinstance(hosts, int):
            up = None if rate_mbit is None else Shaping(rate_mbit, burst_bytes, latency_ms)
            down = (
                None if download_mbit is None else Shaping(download_mbit, burst_bytes, latency_ms)
            )
            self.specs = [HostSpec(up, down)] * hosts
        else:
            if rate_mbit is not None or download_mbit is not None:
                raise ValueError("give either per-host HostSpecs or rate_mbit/download_mbit")
            self.specs = list(hosts)
        if not self.specs:
            raise ValueError("a topology needs at least one host")
        self.prefix = prefix
        self.driver_address = driver_address
        self.state_dir: Path | None = None
        self.hosts: list[Host] = []
        self.names: TopologyNames | None = None
        self._processes: list[subprocess.Popen[Any]] = []
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Topology:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
            return
        try:
            self.close()
        except TopologyTeardownError as failure:
            warnings.warn(f"netns teardown after an error: {failure}", ResourceWarning, 2)

    def start(self) -> None:
        """Create everything (idempotence is not offered: call once)."""
        if self.names is not None:
            raise TopologyError("topology already started")
        self.state_dir = state.default_state_dir()
        try:
            self.names = state.allocate(self.prefix, len(self.specs), self.state_dir)
            self.hosts = [
                Host(self._track, i, self.names, spec) for i, spec in enumerate(self.specs)
            ]
            self._build(self.names)
        except (commands.NetnsCommandError, OSError) as exc:
            try:
                self.close()
            except TopologyTeardownError as failure:
                exc.add_note(f"and teardown left: {failure.leftovers}")
            raise TopologySetupError(f"building the netns topology failed: {exc}") from exc

    def _build(self, names: TopologyNames) -> None:
        run = commands.run
        run(["ip", "link", "add", names.bridge, "type", "bridge"])
        commands.disable_ipv6_in_root(names.bridge)
        run(["ip", "link", "set", names.bridge, "up"])
        if self.driver_address:
            run(["ip", "addr", "add", f"{names.driver_ip}/24", "dev", names.bridge])
        for host in self.hosts:
            ns, veth = host.name, host.bridge_veth
            run(["ip", "netns", "add", ns])
            run(
                [
                    *host.exec_argv(["sysctl", "-qw"]),
                    "net.ipv6.conf.all.disable_ipv6=1",
                    "net.ipv6.conf.default.disable_ipv6=1",
                ]
            )
            peer = ["peer", "name", HOST_INTERFACE, "netns", ns]
            run(["ip", "link", "add", veth, "type", "veth", *peer])
            commands.disable_ipv6_in_root(veth)
            run(["ip", "link", "set", veth, "master", names.bridge, "up"])
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
            run(["ip", "-n", ns, "addr", "add", f"{host.ip}/24", "dev", HOST_INTERFACE])
            run(["ip", "-n", ns, "link", "set", HOST_INTERFACE, "up"])
            if host.spec.upload is not None:
                upload = host.spec.upload.tbf_args()
                run(["tc", "-n", ns, "qdisc", "add", "dev", HOST_INTERFACE, "root", *upload])
            if host.spec.download is not None:
                run(["tc", "qdisc", "add", "dev", veth, "root", *host.spec.download.tbf_args()])

    def close(self) -> None:
        """Kill processes and delete everything this topology made; safe to call twice."""
        if self._closed or self.names is None or self.state_dir is None:
            return
        names = self.names
        self._kill_tracked()
        state.kill_namespace_processes(names.namespaces)
        errors = state.remove_resources(names.namespaces, names.links)
        if errors:
            left = state.leftovers(names.namespaces, names.links)
            raise TopologyTeardownError(
                f"netns topology {names.topology_id} teardown incomplete: {'; '.join(errors)}",
                left,
            )
        state.release(self.state_dir, names.topology_id)
        self._closed = True

    def _track(self, process: subprocess.Popen[Any]) -> None:
        if self._closed:
            process.kill()
            raise TopologyError("topology already closed")
        self._processes.append(process)

    def _kill_tracked(self) -> None:
        def signal_groups(sig: signal.Signals) -> None:
            for process in self._processes:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, sig)

        signal_groups(signal.SIGTERM)
        deadline = time.monotonic() + TERM_GRACE_S
        for process in self._processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(max(0.0, deadline - time.monotonic()))
        signal_groups(signal.SIGKILL)
        for process in self._processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(TERM_GRACE_S)
            for stream in (process.stdin, process.stdout, process.stderr):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()

    # -- conveniences ------------------------------------------------------------------------

    @property
    def topology_id(self) -> str:
        return self._started().topology_id

    @property
    def bridge(self) -> str:
        return self._started().bridge

    @property
    def driver_ip(self) -> str | None:
        """The root namespace's address on the bridge, if `driver_address=True`."""
        return self._started().driver_ip if self.driver_address else None

    def resource_names(self) -> list[str]:
        """Every namespace and root-namespace interface this topology creates."""
        names = self._started()
        return [*names.namespaces, *names.links]

    def _started(self) -> TopologyNames:
        if self.names is None:
            raise TopologyError("topology not started")
        return self.names
