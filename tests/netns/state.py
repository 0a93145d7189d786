"""Ownership records for topologies, subnet allocation, and removal of leftovers from dead runs.

What this module is for: before a topology creates anything it writes a small JSON state file
(`<state dir>/<topology id>.json`: owner pid and that process's start time, host count, subnet),
under a lock that also hands out a /24 no live topology uses. `cleanup_stale(prefix)` removes
namespaces, interfaces and state files of topologies whose owner is gone (killed test runs):
a resource with the prefix whose state file is missing or names a dead owner is stale. The pid is
paired with its start time so a recycled pid does not keep garbage alive.

Not responsible for a live topology's own teardown (that is `Topology.close`), nor for anything
that does not match `names.id_pattern(prefix)`.

Error contract: `allocate` raises `RuntimeError` when all 512 subnets are taken by live owners;
`cleanup_stale` removes what it can, returns the topology ids it cleaned and raises
`StaleCleanupError` listing what it could not remove.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from tests.netns import commands
from tests.netns.names import SUBNET_COUNT, TopologyNames, id_pattern

# One directory per machine, shared by every run: a topology recorded elsewhere would look stale.
STATE_DIRS = (Path("/run/vid-netns"), Path("/tmp/vid-netns"))
VANISH_TIMEOUT_S = 5.0


class StaleCleanupError(RuntimeError):
    """Some leftovers could not be removed; `leftovers` names them."""

    def __init__(self, leftovers: list[str], errors: list[str]) -> None:
        super().__init__(
            f"could not remove stale netns resources {leftovers}: " + "; ".join(errors)
        )
        self.leftovers = leftovers


def default_state_dir() -> Path:
    """/run/vid-netns (tmpfs, gone after a reboot like the namespaces), else /tmp/vid-netns."""
    for candidate in STATE_DIRS:
        try:
            candidate.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        if os.access(candidate, os.W_OK):
            return candidate
    raise RuntimeError(f"no writable state directory among {[str(d) for d in STATE_DIRS]}")


def process_start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[19])  # field 22 overall; fields[0] is field 3 (state)


@dataclass(frozen=True)
class TopologyState:
    """What the state file records about one topology."""

    topology_id: str
    host_count: int
    subnet_index: int
    owner_pid: int
    owner_start_time: int | None

    @property
    def names(self) -> TopologyNames:
        return TopologyNames(self.topology_id, self.host_count, self.subnet_index)

    def owner_alive(self) -> bool:
        start = process_start_time(self.owner_pid)
        return start is not None and start == self.owner_start_time


def state_path(state_dir: Path, topology_id: str) -> Path:
    return state_dir / f"{topology_id}.json"


def read_state(path: Path) -> TopologyState | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return TopologyState(**raw)
    except (OSError, ValueError, TypeError):
        return None


@contextlib.contextmanager
def _locked(state_dir: Path) -> Iterator[None]:
    with (state_dir / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _live_states(state_dir: Path) -> list[TopologyState]:
    found = (read_state(p) for p in state_dir.glob("*.json"))
    return [s for s in found if s is not None and s.owner_alive()]


def _root_subnets_in_use() -> set[int]:
    """Subnet indexes the root namespace already has an address in (someone else's driver)."""
    done = commands.run(["ip", "-4", "-o", "addr", "show"], check=False)
    used: set[int] = set()
    for token in done.stdout.split():
        if token.startswith(("198.18.", "198.19.")) and "/" in token:
            octets = [int(part) for part in token.split("/")[0].split(".")]
            used.add((octets[1] - 18) * 256 + octets[2])
    return used


def allocate(prefix: str, host_count: int, state_dir: Path) -> TopologyNames:
    """Pick a fresh topology id and a /24 no live topology uses; record this process as owner."""
    with _locked(state_dir):
        taken = {s.subnet_index for s in _live_states(state_dir)} | _root_subnets_in_use()
        names = TopologyNames.create(prefix, host_count, 0)
        start = int(names.topology_id[len(prefix) :], 16) % SUBNET_COUNT
        for step in range(SUBNET_COUNT):
            index = (start + step) % SUBNET_COUNT
            if index not in taken:
                break
        else:
            raise RuntimeError("all 512 /24 subnets of 198.18.0.0/15 are in use by live topologies")
        names = TopologyNames(names.topology_id, host_count, index)
        pid = os.getpid()
        record = TopologyState(names.topology_id, host_count, index, pid, process_start_time(pid))
        state_path(state_dir, names.topology_id).write_text(
            json.dumps(asdict(record)), encoding="utf-8"
        )
        return names


def release(state_dir: Path, topology_id: str) -> None:
    state_path(state_dir, topology_id).unlink(missing_ok=True)


def kill_namespace_processes(namespaces: list[str], timeout_s: float = VANISH_TIMEOUT_S) -> None:
    """SIGKILL every process in these namespaces and wait (bounded) until none is left."""
    deadline = time.monotonic() + timeout_s
    while True:
        pids = {pid for ns in namespaces for pid in commands.namespace_pids(ns)}
        pids.discard(os.getpid())
        if not pids or time.monotonic() > deadline:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


def remove_resources(namespaces: list[str], links: list[str]) -> list[str]:
    """Delete links (veth ends first, which takes their peers) and namespaces; wait for them.

    Deleting a namespace is asynchronous in the kernel: its veth peers linger in the root
    namespace for a while, so veths are deleted explicitly before their namespaces. Returns the
    error messages of what could not be removed (empty: everything is gone).
    """
    errors: list[str] = []
    existing_links = set(commands.list_links())
    for link in links:
        if link in existing_links:
            done = commands.run(["ip", "link", "del", link], check=False)
            if done.returncode != 0 and link in commands.list_links():
                errors.append(f"ip link del {link}: {done.stderr.strip()}")
    existing_ns = set(commands.list_namespaces())
    for ns in namespaces:
        if ns in existing_ns:
            done = commands.run(["ip", "netns", "del", ns], check=False)
            if done.returncode != 0:
                errors.append(f"ip netns del {ns}: {done.stderr.strip()}")
    deadline = time.monotonic() + VANISH_TIMEOUT_S
    while True:
        left = leftovers(namespaces, links)
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if left:
        errors.append(f"still present after {VANISH_TIMEOUT_S:.0f} s: {left}")
    return errors


def leftovers(namespaces: list[str], links: list[str]) -> list[str]:
    present_ns = set(commands.list_namespaces())
    present_links = set(commands.list_links())
    return [n for n in namespaces if n in present_ns] + [x for x in links if x in present_links]


def cleanup_stale(prefix: str) -> list[str]:
    """Remove every topology with this prefix whose owner process is dead; return their ids.

    A matching resource without a state file counts as stale: live topologies write theirs
    before creating anything, in the one state directory every run on this machine shares.
    """
    state_dir = default_state_dir()
    pattern = id_pattern(prefix)
    found: dict[str, tuple[list[str], list[str]]] = {}
    for ns in commands.list_namespaces():
        match = pattern.match(ns)
        if match:
            found.setdefault(match.group(1), ([], []))[0].append(ns)
    for link in commands.list_links():
        match = pattern.match(link)
        if match:
            found.setdefault(match.group(1), ([], []))[1].append(link)
    for path in state_dir.glob(f"{prefix}*.json"):
        if pattern.match(path.stem + "-br"):
            found.setdefault(path.stem, ([], []))
    cleaned: list[str] = []
    errors: list[str] = []
    stuck: list[str] = []
    with _locked(state_dir):
        for topology_id, (namespaces, links) in sorted(found.items()):
            record = read_state(state_path(state_dir, topology_id))
            if record is not None and record.owner_alive():
                continue
            if record is not None:  # also what it meant to create but might not be listed yet
                namespaces = sorted(set(namespaces) | set(record.names.namespaces))
                links = sorted(set(links) | set(record.names.links))
            links.sort(key=lambda name: name.endswith("-br"))  # veths before the bridge
            kill_namespace_processes(namespaces)
            problems = remove_resources(namespaces, links)
            if problems:
                errors.extend(problems)
                stuck.extend(leftovers(namespaces, links))
                continue
            release(state_dir, topology_id)
            cleaned.append(topology_id)
    if errors:
        raise StaleCleanupError(stuck, errors)
    return cleaned
