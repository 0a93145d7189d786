"""What `client-fetch get` pays before it moves bytes: no TLS set-up for plain http://, and no
module that only other paths need (update sources and their formats, the tracker scrape, the
fetch report) for `--via swarm|http`.

TLS keeps its semantics: an https:// URL gets httpx's verifying transport, built on first use, so
a local server with a self-signed certificate is refused (a client that trusts the certificate
reaches the same server, so the refusal is the verification's doing).
"""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from client_fetch import transports, wiring
from client_fetch.cache import HostCache
from client_fetch.settings import ClientSettings
from client_fetch.transports import LazyTransport, plain_http_transport
from image_format.manifest import Manifest, TorrentRef
from tests.fakes.hello_server import hello_server, https_hello_server

KEY = "ed25519:XHzgrrRyVZ9HF2AQPKStaTx2kMvIj6ttpx2QVbjdLVY="


@pytest.fixture
def http_url() -> Iterator[str]:
    with hello_server() as url:
        yield url


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(URL of an https server with a self-signed certificate, that certificate)."""
    with https_hello_server(tmp_path) as served:
        yield served


def _settings(tmp_path: Path, *servers: str) -> ClientSettings:
    return ClientSettings(servers=list(servers), key=KEY, cache_dir=tmp_path / "cache")


@pytest.fixture
def made_tls(monkeypatch: pytest.MonkeyPatch) -> list[LazyTransport]:
    """Every lazy TLS transport `wiring.http_client` makes, to see whether it was built."""
    made: list[LazyTransport] = []

    def recording(*, trust_env: bool, context: Callable[[], ssl.SSLContext]) -> LazyTransport:
        made.append(transports.tls_transport(trust_env=trust_env, context=context))
        return made[-1]

    monkeypatch.setattr(wiring, "tls_transport", recording)
    return made


# -- TLS only when https:// is used ------------------------------------------------------------


def test_plain_http_never_builds_the_tls_transport(
    tmp_path: Path, http_url: str, made_tls: list[LazyTransport]
) -> None:
    with wiring.http_client(_settings(tmp_path, http_url)) as client:
        assert client.get(http_url).content == b"hello"
        assert client.get(http_url).status_code == 200
        assert len(made_tls) == 1 and not made_tls[0].built


def test_https_builds_a_verifying_transport_that_refuses_a_self_signed_certificate(
    tmp_path: Path, http_url: str, tls_server: tuple[str, Path], made_tls: list[LazyTransport]
) -> None:
    https_url, cert = tls_server
    with httpx.Client(verify=ssl.create_default_context(cafile=cert), trust_env=False) as trusting:
        assert trusting.get(https_url).content == b"hello"  # the server itself works
    with wiring.http_client(_settings(tmp_path, http_url)) as client:
        assert not made_tls[0].built
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            client.get(https_url)
        assert made_tls[0].built
        assert client.get(http_url).content == b"hello"  # http:// still goes its own way
    assert not made_tls[0].built  # closing the client closed the transport it built


def test_the_plain_transport_would_refuse_tls_too(tls_server: tuple[str, Path]) -> None:
    https_url, _ = tls_server
    with (
        httpx.Client(transport=plain_http_transport(trust_env=False)) as client,
        pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        client.get(https_url)


class _Counting(httpx.BaseTransport):
    def __init__(self) -> None:
        self.requests = 0
        self.closed = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return httpx.Response(200, content=b"ok")

    def close(self) -> None:
        self.closed = True


def test_the_lazy_transport_is_built_once_under_concurrent_first_requests() -> None:
    built: list[_Counting] = []
    gate = threading.Barrier(8)

    def build() -> _Counting:
        built.append(_Counting())
        return built[-1]

    lazy = LazyTransport(build)
    assert not built
    with httpx.Client(transport=lazy) as client:

        def request() -> None:
            gate.wait()
            assert client.get("https://example.test/").content == b"ok"

        threads = [threading.Thread(target=request) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(built) == 1 and built[0].requests == 8 and built[0].closed


# -- what a get imports ------------------------------------------------------------------------

UPDATE_MODULES = {
    "client_fetch.sources.delta_source",
    "client_fetch.sources.chunked_source",
    "client_fetch.chunk_indexes",
    "client_fetch.chunkstores",
    "image_format.delta",
    "image_format.chunks",
}
LATER_MODULES = {"client_fetch.tracker_scrape", "client_fetch.fetch_reporter"}


@dataclass(frozen=True)
class FailedGet:
    """What a `get` process did up to failing on an unreachable server."""

    modules: set[str]
    collections: int  # runs of the cyclic garbage collector


def _failed_get(tmp_path: Path, via: str, *, entry: bool = False) -> FailedGet:
    """Run `get --via VIA` against a refusing server, in-process `cli.main` or, with `entry`,
    started as the `client-fetch` command is (`client_fetch.entry.run`)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: connections are refused
    argv = [
        "get", "x@1", "--server", f"http://127.0.0.1:{port}", "--key", KEY,
        "--cache", str(tmp_path / "cache"), "--json", "--via", via,
    ]  # fmt: skip
    count = "import gc\nruns = []\ngc.callbacks.append(lambda phase, _: runs.append(phase))\n"
    if entry:
        start = (
            f"import sys\nsys.argv = ['client-fetch', *{argv!r}]\n{count}"
            "import client_fetch.entry\n"
            "def keep_running(code):\n    raise SystemExit(code)\n"
            "client_fetch.entry.exit_now = keep_running  # to list the modules after main\n"
            "try:\n    client_fetch.entry.run()\nexcept SystemExit as exit:\n    code = exit.code\n"
        )
    else:
        start = f"import sys\n{count}from client_fetch.cli import main\ncode = main({argv!r})\n"
    loaded = "sorted(name for name, module in sys.modules.items() if module is not None)"
    code = start + "print('collections', runs.count('start'))\n"
    code += f"print(code)\nprint('\\n'.join({loaded}))\n"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLIENT_FETCH_")}
    env["CLIENT_FETCH_RETRY_ROUNDS"] = "1"
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    lines = run.stdout.splitlines()
    exit_code = next(int(line) for line in lines if line.isdigit())
    assert exit_code == 5, run.stdout + run.stderr  # unavailable: the server refused
    collections = next(int(line.split()[1]) for line in lines if line.startswith("collections "))
    return FailedGet(set(lines), collections)


def _modules_after_a_failed_get(tmp_path: Path, via: str, *, entry: bool = False) -> set[str]:
    return _failed_get(tmp_path, via, entry=entry).modules


@pytest.mark.parametrize("via", ["swarm", "http"])
def test_a_get_via_swarm_or_http_loads_no_update_source(tmp_path: Path, via: str) -> None:
    loaded = _modules_after_a_failed_get(tmp_path, via)
    assert {"client_fetch.wiring", "client_fetch.fetcher", "httpx"} <= loaded  # it got that far
    assert loaded & (UPDATE_MODULES | LATER_MODULES) == set()


def test_the_command_loads_no_async_library_nor_the_httpx_command_line(tmp_path: Path) -> None:
    """httpcore imports trio and anyio, and httpx its CLI's packages, whenever they are
    installed; `client-fetch` is synchronous and marks them absent (`client_fetch.entry`)."""
    loaded = _modules_after_a_failed_get(tmp_path, "swarm", entry=True)
    assert {"client_fetch.fetcher", "httpx", "httpcore"} <= loaded  # it got that far
    assert loaded & {"trio", "anyio", "httpx._main", "click", "pygments", "rich"} == set()


def test_verifying_manifests_loads_no_key_file_formats(tmp_path: Path) -> None:
    """cryptography's `serialization` (~10 ms of start-up, for its SSH key formats) is only for
    the distributor's private key; the fetcher verifies with raw public keys."""
    loaded = _modules_after_a_failed_get(tmp_path, "swarm", entry=True)
    assert {"image_format.envelope", "cryptography.hazmat.primitives.asymmetric.ed25519"} <= loaded
    assert "cryptography.hazmat.primitives.serialization" not in loaded


def test_the_command_runs_no_garbage_collection_up_to_its_first_request(tmp_path: Path) -> None:
    """At Python's default threshold the imports of a `get` ran the cyclic collector ~85 times
    (~15 % of the CPU before the first request); `client_fetch.entry` raises the threshold."""
    in_process = _failed_get(tmp_path / "main", "swarm")
    command = _failed_get(tmp_path / "command", "swarm", entry=True)
    assert {"pydantic", "httpx", "cryptography"} <= command.modules  # it got that far
    assert in_process.collections > 10  # what the same get costs at the default threshold
    assert command.collections == 0


def test_a_get_via_auto_builds_update_sources_without_their_formats(tmp_path: Path) -> None:
    loaded = _modules_after_a_failed_get(tmp_path, "auto")
    assert "client_fetch.sources.delta_source" in loaded
    assert "image_format.delta" not in loaded  # only a patch being applied needs it


# -- update sources are built for `plan`, and for the --via choices that use them ---------------


def _manifest() -> Manifest:
    torrent = TorrentRef(sha256="d" * 64, size=321, info_hash_v1="a" * 40)
    return Manifest(
        name="img",
        version="1",
        size=1000,
        sha256="e" * 64,
        created="2026-01-01T00:00:00Z",
        torrent=torrent,
    )


UPDATE_UNAVAILABLE = [
    ("delta", "no delta starts from a cached version"),
    ("chunks", "the manifest names no chunk index"),
]


@pytest.mark.parametrize(
    ("via", "every_estimate", "updates"),
    [
        ("swarm", False, False),
        ("http", False, False),
        ("swarm", True, True),
        ("http", True, True),
        ("auto", False, True),
        ("delta", False, True),
        ("chunks", False, True),
    ],
)
def test_update_sources_are_asked_only_when_they_may_serve_or_for_plan(
    tmp_path: Path, via: str, every_estimate: bool, updates: bool
) -> None:
    settings = _settings(tmp_path, "http://a.example")
    cache = HostCache(settings.cache_dir)
    with wiring.http_client(settings) as client:
        planner = wiring.planner_for(settings, client, cache, via, every_estimate=every_estimate)
        plan = planner.plan(_manifest())
    asked = [entry for entry in plan.unavailable if entry[0] in ("delta", "chunks")]
    assert asked == (UPDATE_UNAVAILABLE if updates else [])
    expected = {"swarm": ["swarm"], "http": ["http://a.example"]}.get(via)
    if expected is not None:  # the sources tried are the same either way
        assert [source.name for source in plan.sources] == expected
