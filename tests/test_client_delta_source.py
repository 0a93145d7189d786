"""The delta source's contract with the cache and with hostile patches: a patch whose header does
not match the signed manifest and the cached base is refused before it is applied; any failure of
apply but OSError falls back; the base's pin ends with the process; a cache failure inside the
source is the cache's (exit 6), within the configured lock timeout."""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import image_format.delta
from client_fetch.cache import HostCache
from client_fetch.errors import SourceUnavailable
from client_fetch.partial_file import PartialFile
from client_fetch.progress import Progress
from client_fetch.sources.base import FetchReport
from client_fetch.sources.delta_source import DeltaSource
from image_format.delta import DeltaHeader
from image_format.delta.header import HEADER_SIZE
from image_format.manifest import DeltaRef, Manifest
from tests.delta_helpers import make_patch
from tests.fakes.fault_proxy import Faults, fault_proxy
from tests.fixtures.distributor_server import RunningDistributor, running_distributor
from tests.support import run_client, start_client
from tests.update_helpers import Published, publish_versions

# -- a delta source over a fake server, in-process ------------------------------------------------


class PatchServer:
    """Serves one patch as `HttpSource.fetch_blob` does: appended to the partial."""

    name = "fake-server"

    def __init__(self, data: bytes) -> None:
        self.data = data

    def fetch_blob(
        self, digest: str, size: int, partial: PartialFile, progress: Progress, report: FetchReport
    ) -> None:
        partial.append(self.data[partial.size :])


@dataclasses.dataclass
class Host:
    cache: HostCache
    base: bytes
    new: bytes
    patch: bytes

    @property
    def base_digest(self) -> str:
        return hashlib.sha256(self.base).hexdigest()

    def manifest(self, patch: bytes) -> Manifest:
        delta = DeltaRef(
            from_version="1",
            from_sha256=self.base_digest,
            sha256=hashlib.sha256(patch).hexdigest(),
            size=len(patch),
        )
        return Manifest(
            name="img",
            version="2",
            size=len(self.new),
            sha256=hashlib.sha256(self.new).hexdigest(),
            created="2024-01-01T00:00:00Z",
            deltas=(delta,),
        )

    def fetch(self, patch: bytes, into: Path) -> PartialFile:
        """Run the delta source on `patch` (served as the manifest's, so "signed")."""
        source = DeltaSource(self.cache, [PatchServer(patch)], None, lambda _: None)
        manifest = self.manifest(patch)
        partial = PartialFile(into)
        with partial:
            partial.open_unordered(manifest.size)
            source.fetch(manifest, partial, Progress("img@2", manifest.size), FetchReport())
        return partial


@pytest.fixture
def host(tmp_path: Path) -> Host:
    rng = random.Random(5)
    base = rng.randbytes(64 * 1024)
    new = base[:20_000] + rng.randbytes(8192) + base[28_192:] + bytes(16_384)
    (tmp_path / "base").write_bytes(base)
    (tmp_path / "new").write_bytes(new)
    patch, _ = make_patch(tmp_path / "base", tmp_path / "new")
    cache = HostCache(tmp_path / "cache")
    digest = hashlib.sha256(base).hexdigest()
    partial = cache.partial_path(digest)
    partial.write_bytes(base)
    cache.promote(digest, partial)
    return Host(cache, base, new, patch)


def with_header(patch: bytes, **changes: object) -> bytes:
    header = DeltaHeader.unpack(patch[:HEADER_SIZE])
    return dataclasses.replace(header, **changes).pack() + patch[HEADER_SIZE:]


@pytest.fixture
def apply_must_not_run(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> DeltaHeader:
        raise AssertionError("apply_delta ran on a patch its header should have refused")

    monkeypatch.setattr(image_format.delta, "apply_delta", refuse)


def test_a_good_patch_applies(host: Host, tmp_path: Path) -> None:
    partial = host.fetch(host.patch, tmp_path / "out.partial")
    assert partial.path.read_bytes() == host.new
    assert partial.running_digest() == hashlib.sha256(host.new).hexdigest()


@pytest.mark.parametrize(
    "changes",
    [
        {"new_size": 1 << 50},  # a hostile header: apply would write and hash a PiB of zeros
        {"new_sha256": hashlib.sha256(b"another image").hexdigest()},
        {"old_sha256": hashlib.sha256(b"another base").hexdigest()},
        {"old_size": 4096},
    ],
    ids=["new-size", "new-sha256", "old-sha256", "old-size"],
)
@pytest.mark.usefixtures("apply_must_not_run")
@pytest.mark.timeout(10)
def test_a_patch_whose_header_disagrees_is_refused_before_applying(
    host: Host, tmp_path: Path, changes: dict[str, object]
) -> None:
    hostile = with_header(host.patch, **changes)
    with pytest.raises(SourceUnavailable, match="refused before applying"):
        host.fetch(hostile, tmp_path / "out.partial")
    assert host.cache.lookup(host.base_digest, len(host.base)) is not None  # not quarantined
    assert host.cache.pins_of(host.base_digest) == []
    assert os.listdir(host.cache.root / "downloads") == []  # the patch went with it


@pytest.mark.parametrize("error", [ValueError("bad frame"), KeyError("lane"), MemoryError()])
def test_any_failure_of_apply_but_oserror_falls_back(
    host: Host, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    """Stands for zstandard.ZstdError and any other error a bad patch can make apply raise."""

    def broken(*args: object, **kwargs: object) -> DeltaHeader:
        raise error

    monkeypatch.setattr(image_format.delta, "apply_delta", broken)
    with pytest.raises(SourceUnavailable, match="patch does not apply"):
        host.fetch(host.patch, tmp_path / "out.partial")
    assert host.cache.pins_of(host.base_digest) == []
    assert os.listdir(host.cache.root / "downloads") == []


def test_an_oserror_while_applying_is_not_the_patch_s_fault(
    host: Host, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(*args: object, **kwargs: object) -> DeltaHeader:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(image_format.delta, "apply_delta", disk_full)
    with pytest.raises(OSError, match="No space"):
        host.fetch(host.patch, tmp_path / "out.partial")
    assert host.cache.pins_of(host.base_digest) == []


# -- the whole client over a real distributor -----------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDistributor]:
    with running_distributor(tmp_path_factory.mktemp("delta-source") / "distributor") as running:
        yield running


@pytest.fixture(scope="module")
def deb(server: RunningDistributor, tmp_path_factory: pytest.TempPathFactory) -> Published:
    return publish_versions(server, tmp_path_factory.mktemp("deb"), "deb", seed=7)


def host_with_v1(server: RunningDistributor, cache: Path) -> None:
    args = ("--server", server.url, "--key", server.public_key, "--cache", str(cache))
    assert run_client("get", "deb@1", *args).returncode == 0


def test_a_fetch_killed_while_its_delta_runs_leaves_no_pin_on_the_base(
    server: RunningDistributor, deb: Published, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    host_with_v1(server, cache)
    v1, v2 = deb.manifest(1), deb.manifest(2)
    [delta] = v2.deltas
    stalled = Faults(stall_after=0, stall_seconds=60, blob_digest=delta.sha256)
    with fault_proxy(server.url, stalled) as (proxy, _):
        args = ("--server", proxy, "--key", server.public_key, "--cache", str(cache))
        fetch = start_client("get", "deb@2", "--via", "delta", *args, "--json")
        pin = cache / "pins" / v1.sha256 / f"delta-{fetch.pid}"
        deadline = time.monotonic() + 30
        while not pin.exists():  # the base is pinned before the (stalled) patch is fetched
            assert time.monotonic() < deadline and fetch.poll() is None, "base never pinned"
            time.sleep(0.02)
        os.kill(fetch.pid, signal.SIGKILL)
        fetch.wait()
    gc = run_client("cache", "gc", "--cache", str(cache), "--quota", "1", "--json")
    report = json.loads(gc.stdout)
    assert report["expired_pins"] == [f"{v1.sha256}/delta-{fetch.pid}"]
    assert [entry["digest"] for entry in report["quota"]["evicted"]] == [v1.sha256]


# Holds the single-flight lock of one digest until its stdin closes.
LOCK_HOLDER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from client_fetch.cache import HostCache

    with HostCache(Path(sys.argv[1])).single_flight(sys.argv[2]):
        print("held", flush=True)
        sys.stdin.read()
    """
)


def test_a_cache_error_in_the_delta_source_is_a_cache_error_within_the_lock_timeout(
    server: RunningDistributor, deb: Published, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    host_with_v1(server, cache)
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(cache), deb.manifest(1).sha256],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        env = {
            **os.environ,
            "CLIENT_FETCH_RETRY_ROUNDS": "1",
            "CLIENT_FETCH_LOCK_TIMEOUT_SECONDS": "0.5",
        }
        started = time.monotonic()
        args = ("--server", server.url, "--key", server.public_key, "--cache", str(cache))
        run = run_client("get", "deb@2", "--via", "delta", *args, "--json", env=env)
        seconds = time.monotonic() - started
    finally:
        holder.communicate(input="")
    assert run.returncode == 6, run.stdout
    assert run.json()["error"] == "cache_error"
    assert "timed out waiting" in run.json()["detail"]
    assert seconds < 15  # the configured 0.5 s, not the cache's default 30 s
