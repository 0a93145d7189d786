"""Running `ip`, `tc` and `sysctl` for the namespace topology, and listing what exists.

What this module is for: one place that runs the iproute2 commands, turns a failure into an
exception that carries the command and its stderr, and lists namespaces, interfaces and the
processes inside a namespace. Not responsible for deciding what to create or delete.

Error contract: `run` raises `NetnsCommandError` (command, exit code, stderr) on a non-zero exit
unless `check=False`; a missing binary surfaces as `NetnsCommandError` too (exit code 127). The
listing functions never raise for an absent namespace: they return empty results.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

COMMAND_TIMEOUT_S = 30.0


class NetnsCommandError(RuntimeError):
    """An `ip`/`tc`/`sysctl` command failed; `argv`, `returncode` and `stderr` say how."""

    def __init__(self, argv: Sequence[str], returncode: int, stderr: str) -> None:
        super().__init__(f"`{' '.join(argv)}` failed with exit code {returncode}: {stderr.strip()}")
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr


def run(argv: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a short administrative command, capturing text output."""
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S, check=False
        )
    except FileNotFoundError as exc:
        raise NetnsCommandError(argv, 127, str(exc)) from exc
    except subprocess.TimeoutExpired as exc:
        raise NetnsCommandError(argv, -1, f"timed out after {COMMAND_TIMEOUT_S:.0f} s") from exc
    if check and done.returncode != 0:
        raise NetnsCommandError(argv, done.returncode, done.stderr)
    return done


def list_namespaces() -> list[str]:
    """Names of the named network namespaces (`ip netns list`, first column)."""
    done = run(["ip", "netns", "list"])
    return [line.split()[0] for line in done.stdout.splitlines() if line.strip()]


def list_links() -> list[str]:
    """Interface names in the root network namespace."""
    return sorted(os.listdir("/sys/class/net"))


def namespace_pids(namespace: str) -> list[int]:
    """Processes whose network namespace is `namespace` (empty if it does not exist)."""
    done = run(["ip", "netns", "pids", namespace], check=False)
    if done.returncode != 0:
        return []
    return [int(token) for token in done.stdout.split() if token.isdigit()]


def disable_ipv6_in_root(interface: str) -> None:
    """Keep an interface of ours from sending IPv6 (link-local, DAD, MLD) onto the bridge."""
    flag = Path("/proc/sys/net/ipv6/conf") / interface / "disable_ipv6"
    if flag.exists():
        flag.write_text("1\n", encoding="ascii")
