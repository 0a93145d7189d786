"""One host of a `Topology`: a network namespace, its address, and running programs inside it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Any

from tests.netns import commands
from tests.netns.names import TopologyNames
from tests.netns.specs import HostSpec

HOST_INTERFACE = "eth0"
DEFAULT_RUN_TIMEOUT_S = 120.0


class Host:
    """One namespace of a topology: its address and ways to run programs inside it.

    Not responsible for the programs' outcome: `run` returns the CompletedProcess whatever the
    exit code (pass `check=True` for CalledProcessError). `popen` processes go to `track` (the
    topology's), which kills their whole process group at teardown; a process that leaves its
    session (setsid) is still killed, by the sweep of the namespace's pids.
    """

    def __init__(
        self,
        track: Callable[[subprocess.Popen[Any]], None],
        index: int,
        names: TopologyNames,
        spec: HostSpec,
    ) -> None:
        self._track = track
        self.index = index
        self.name = names.namespace(index)
        self.ip = names.host_ip(index)
        self.bridge_veth = names.veth(index)
        self.interface = HOST_INTERFACE
        self.spec = spec

    def __repr__(self) -> str:
        return f"Host({self.name!r}, ip={self.ip!r})"

    def exec_argv(self, argv: Sequence[str]) -> list[str]:
        """`argv` prefixed to run inside this host's namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def run(
        self, argv: Sequence[str], *, timeout: float | None = DEFAULT_RUN_TIMEOUT_S, **kw: Any
    ) -> subprocess.CompletedProcess[Any]:
        """Run `argv` in the namespace to completion (subprocess.run keywords pass through)."""
        kw.setdefault("check", False)
        return subprocess.run(self.exec_argv(argv), timeout=timeout, **kw)

    def popen(self, argv: Sequence[str], **kw: Any) -> subprocess.Popen[Any]:
        """Start `argv` in the namespace in a new session; teardown kills its process group."""
        if kw.get("start_new_session") is False or "process_group" in kw:
            raise ValueError("Host.popen always starts a new session (teardown kills the group)")
        kw["start_new_session"] = True
        process = subprocess.Popen(self.exec_argv(argv), **kw)
        self._track(process)
        return process

    @staticmethod
    def python_argv(module: str, *args: str) -> list[str]:
        """`[sys.executable, "-m", module, *args]`: this interpreter, so the venv carries over."""
        return [sys.executable, "-m", module, *args]

    def pids(self) -> list[int]:
        """Every process currently in this host's namespace."""
        return commands.namespace_pids(self.name)

    def tx_bytes(self) -> int:
        """Bytes this host's `eth0` has sent: whole frames, every protocol (kernel counter)."""
        shown = subprocess.run(
            ["ip", "-n", self.name, "-j", "-s", "link", "show", "dev", self.interface],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
        return int(json.loads(shown.stdout)[0]["stats64"]["tx"]["bytes"])
