"""The network-namespace topology: addresses, reachability, tbf limits, teardown, and a real
distributor in one namespace serving `client-fetch` in three others.

Only 198.18.0.0/15 and loopback are used; nothing here ever connects from the root namespace to
a host unless the topology gave the root namespace a driver address on the bridge.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from distributor.keys import init_keys
from tests.fixtures.distributor_server import run_cli
from tests.netns import (
    Host,
    HostSpec,
    Shaping,
    Topology,
    TopologySetupError,
    cleanup_stale,
    commands,
    tcp_probe,
)
from tests.netns.fixtures import TopologyFactory, netns_unavailable_reason
from tests.netns.names import NETNS_RANGE, TopologyNames
from tests.support import make_image

MiB = 1024 * 1024


def _start_sink(host: Host, port: int) -> subprocess.Popen[str]:
    sink = host.popen(
        tcp_probe.argv("sink", "--bind", host.ip, "--port", str(port)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert sink.stdout is not None
    assert sink.stdout.readline().strip() == "listening", sink.stderr.read() if sink.stderr else ""
    return sink


def _start_send(sender: Host, sink_host: Host, port: int, count: int) -> subprocess.Popen[str]:
    return sender.popen(
        tcp_probe.argv("send", "--to", sink_host.ip, "--port", str(port), "--bytes", str(count)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen[str], timeout: float = 30) -> dict[str, Any]:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, f"exit {process.returncode}: {err}"
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def _present(names: list[str]) -> list[str]:
    existing = set(commands.list_namespaces()) | set(commands.list_links())
    return [name for name in names if name in existing]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "State:\tZ" not in Path(
        f"/proc/{pid}/status"
    ).read_text(encoding="ascii", errors="replace")


# -- pure checks ---------------------------------------------------------------------------------


def test_names_fit_the_interface_limit_and_the_benchmark_range() -> None:
    names = TopologyNames("vid-abcdef", 253, 511)
    assert max(len(link) for link in names.links) <= 15
    assert all(ipaddress.IPv4Address(names.host_ip(i)) in NETNS_RANGE for i in range(253))
    assert ipaddress.IPv4Address(names.driver_ip) in NETNS_RANGE
    with pytest.raises(ValueError, match="15 characters"):
        TopologyNames("toolong-abcdef", 2, 0)
    with pytest.raises(ValueError, match="host count"):
        TopologyNames("vid-abcdef", 254, 0)


def test_without_root_the_fixture_fails_with_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    reason = netns_unavailable_reason()
    assert reason is not None and "root" in reason


# -- topology ------------------------------------------------------------------------------------


def test_hosts_get_distinct_addresses_and_reach_each_other(
    netns_topology: TopologyFactory,
) -> None:
    topo = netns_topology(hosts=3)
    other = netns_topology(hosts=2)
    ips = [ipaddress.IPv4Address(h.ip) for h in topo.hosts]
    assert len(set(ips)) == 3 and all(ip in NETNS_RANGE for ip in ips)
    assert len({h.name for h in topo.hosts}) == 3
    subnets = {ipaddress.IPv4Network(f"{h.ip}/24", strict=False) for h in topo.hosts}
    other_subnets = {ipaddress.IPv4Network(f"{h.ip}/24", strict=False) for h in other.hosts}
    assert len(subnets) == 1 and not subnets & other_subnets, "topologies must not overlap"
    assert topo.driver_ip is None

    # Each namespace has its own address and loopback, nothing else, and no default route.
    shown = topo.hosts[0].run(["ip", "-4", "-o", "addr"], capture_output=True, text=True).stdout
    assert sorted(line.split()[3] for line in shown.splitlines()) == sorted(
        ["127.0.0.1/8", f"{topo.hosts[0].ip}/24"]
    )
    routes = topo.hosts[0].run(["ip", "route"], capture_output=True, text=True).stdout
    assert "default" not in routes

    sink = _start_sink(topo.hosts[1], 9000)
    sent = _finish(_start_send(topo.hosts[2], topo.hosts[1], 9000, 100_000))
    assert sent["bytes"] == 100_000
    sink.wait(10)

    # Another topology's hosts are unreachable (no route: fails at once, nothing is sent).
    unreachable = other.hosts[0].ip
    probe = topo.hosts[0].run(
        tcp_probe.argv(
            "send", "--to", unreachable, "--port", "9", "--bytes", "1", "--connect-timeout", "0"
        ),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert probe.returncode != 0 and "unreachable" in probe.stderr.lower()


def test_tbf_limits_egress_and_optionally_ingress(netns_topology: TopologyFactory) -> None:
    rate = Shaping(rate_mbit=20)
    topo = netns_topology(
        [HostSpec(upload=rate), HostSpec(), HostSpec(), HostSpec(download=rate)],
    )
    limited_up, free, sink_host, limited_down = topo.hosts
    qdisc = limited_up.run(["tc", "qdisc", "show", "dev", "eth0"], capture_output=True, text=True)
    assert "tbf" in qdisc.stdout and "rate 20Mbit" in qdisc.stdout
    bridge_side = subprocess.run(
        ["tc", "qdisc", "show", "dev", limited_down.bridge_veth], capture_output=True, text=True
    )
    assert "rate 20Mbit" in bridge_side.stdout
    assert "tbf" not in free.run(["tc", "qdisc", "show"], capture_output=True, text=True).stdout

    size = 4 * MiB  # 33.5 Mbit: 1.68 s at 20 Mbit/s
    sinks = [_start_sink(sink_host, 9000), _start_sink(limited_down, 9000)]
    upload = _start_send(limited_up, sink_host, 9000, size)
    download = _start_send(free, limited_down, 9000, size)
    up_result, down_result = _finish(upload), _finish(download)
    unlimited_sink = _start_sink(sink_host, 9001)
    unlimited = _finish(_start_send(free, sink_host, 9001, size))
    for sink in [*sinks, unlimited_sink]:
        sink.wait(10)

    summary = (
        f"egress-limited {up_result['seconds']:.2f} s, ingress-limited "
        f"{down_result['seconds']:.2f} s, unlimited {unlimited['seconds']:.3f} s"
    )
    assert up_result["bytes"] == down_result["bytes"] == unlimited["bytes"] == size
    assert up_result["seconds"] >= 1.4, summary
    assert down_result["seconds"] >= 1.4, summary


@pytest.mark.parametrize("raises", [False, True], ids=["normal-exit", "exception"])
def test_teardown_removes_everything_and_kills_processes(
    netns_available: None, raises: bool
) -> None:
    class Boom(Exception):
        pass

    pids: list[int] = []
    names: list[str] = []
    topo = Topology(2, rate_mbit=50, download_mbit=50, driver_address=True)
    state_file = Path()
    with pytest.raises(Boom) if raises else _no_error(), topo:
        names = topo.resource_names()
        assert topo.state_dir is not None
        state_file = topo.state_dir / f"{topo.topology_id}.json"
        assert state_file.exists() and sorted(_present(names)) == sorted(names)
        tracked = topo.hosts[0].popen(["sleep", "600"])
        # A process that escapes its group: only the namespace sweep finds it.
        topo.hosts[1].run(["sh", "-c", "setsid sleep 600 >/dev/null 2>&1 &"])
        pids = [tracked.pid, *topo.hosts[1].pids()]
        assert len(pids) == 2
        if raises:
            raise Boom
    assert _present(names) == []
    assert not state_file.exists()
    assert [pid for pid in pids if _alive(pid)] == []


class _no_error:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


class _BadShaping(Shaping):
    def tbf_args(self) -> list[str]:
        return ["tbf", "rate", "not-a-rate"]


def test_setup_failure_removes_what_was_made(netns_available: None) -> None:
    topo = Topology([HostSpec(), HostSpec(upload=_BadShaping(20))])
    try:
        with pytest.raises(TopologySetupError, match="not-a-rate"):
            topo.start()
        assert topo.names is not None
        assert _present([*topo.names.namespaces, *topo.names.links]) == []
    finally:
        topo.close()


_CHILD = """
import json, sys, time
from tests.netns import Topology
topo = Topology(2, prefix="vit-").__enter__()
sleeper = topo.hosts[0].popen(["sleep", "600"])
print(json.dumps({"id": topo.topology_id, "names": topo.resource_names(), "pid": sleeper.pid}))
sys.stdout.flush()
time.sleep(600)
"""


def test_cleanup_stale_removes_a_killed_runs_leftovers_only(netns_available: None) -> None:
    root = Path(__file__).resolve().parent.parent
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD], cwd=root, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line, f"child exited with {child.wait()}"
        made = json.loads(line)
        # Checked while the owner lives: a concurrent run's cleanup may take them once it is dead.
        assert sorted(_present(made["names"])) == sorted(made["names"])
        assert _alive(made["pid"])
        with Topology(1, prefix="vit-") as live:
            cleanup_stale("vit-")
            assert _present(made["names"]) == made["names"] and _alive(made["pid"]), "owner alive"
            child.kill()
            child.wait()
            cleaned = cleanup_stale("vit-")
            assert live.topology_id not in cleaned
            assert _present(made["names"]) == []
            assert not _alive(made["pid"])
            assert live.state_dir is not None
            assert not (live.state_dir / f"{made['id']}.json").exists()
            assert _present(live.resource_names()) == live.resource_names(), "live one untouched"
        assert _present(live.resource_names()) == []
    finally:
        child.kill()
        child.wait()


# -- end to end ----------------------------------------------------------------------------------


def _clean_env() -> dict[str, str]:
    drop = ("DISTRIBUTOR_", "CLIENT_FETCH_", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
    return {k: v for k, v in os.environ.items() if not k.upper().startswith(drop)}


def _wait_ready(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    last = "no answer yet"
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"distributor exited {server.returncode}:\n{log.read_text()}")
        try:
            answer = httpx.get(f"{url}/readiness", timeout=1.0, trust_env=False)
            if answer.status_code == 200:
                return
            last = f"{answer.status_code} {answer.text}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.1)
    pytest.fail(f"distributor not ready ({last}):\n{log.read_text()}")


def test_distributor_in_one_namespace_serves_three_client_hosts(
    netns_topology: TopologyFactory, tmp_path: Path
) -> None:
    topo = netns_topology(hosts=4, rate_mbit=100, driver_address=True)
    origin, *clients = topo.hosts
    data = tmp_path / "distributor"
    public_key = str(init_keys(data).public_key)
    port = 8080  # the namespace is fresh: nothing else listens there
    url = f"http://{origin.ip}:{port}"
    env = _clean_env()
    log = tmp_path / "server.log"
    with log.open("wb") as log_file:
        serve = ["serve", "--data", str(data), "--host", origin.ip, "--port", str(port)]
        server = origin.popen(
            origin.python_argv("distributor", *serve, "--public-url", url, "--dev"),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
        )
    _wait_ready(url, server, log)

    image = tmp_path / "image.bin"
    digest = make_image(image, 3 * MiB, seed=3)
    published = run_cli("publish", "--data", str(data), "--json", "netns-img", "1.0", str(image))
    assert published.returncode == 0, published.stderr
    assert json.loads(published.stdout.strip().splitlines()[-1])["sha256"] == digest

    get = ["get", "netns-img@1.0", "--server", url, "--key", public_key, "--json"]
    fetches = [
        host.popen(
            host.python_argv(
                "client_fetch", *get, "--cache", str(tmp_path / f"cache-{host.index}")
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for host in clients
    ]
    for host, fetch in zip(clients, fetches, strict=True):
        out, err = fetch.communicate(timeout=60)
        assert fetch.returncode == 0, f"{host.name}: exit {fetch.returncode}: {out} {err}"
        result = json.loads(out.strip().splitlines()[-1])
        assert result["digest"].removeprefix("sha256:") == digest, result
        assert result["method"] == "http" and result["bytes_by_source"] == {url: 3 * MiB}
        assert Path(result["cache_path"]).read_bytes() == image.read_bytes()

    stats = httpx.get(f"{url}/v1/stats/origin", timeout=5, trust_env=False).json()["blobs"]
    assert sum(blob["full_transfers"] for blob in stats.values()) == 3
