"""Updates end to end: a host holding v1 gets v2 from a delta patch or from chunks, over a real
distributor and real `client-fetch` processes, and falls back when a patch or a chunk is bad.

The images (tests/update_helpers.py) are a few MiB with zero runs; v2 is v1 after an update. One
distributor serves the module; tests that damage what it serves publish their own image name,
so nothing they break is shared (chunks are stored once across names, so each name has its own
random content).

What must not happen is proved in process: a chunk store that fails the test if touched, behind a
host cache whose donors hold every chunk of the target.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from client_fetch.backoff import Backoff
from client_fetch.cache import HostCache
from client_fetch.chunk_indexes import ChunkIndexes
from client_fetch.chunkstores.http_store import HttpChunkStore
from client_fetch.chunkstores.pack_mirror import PackMirror
from client_fetch.fetcher import Fetcher, FetchPolicy
from client_fetch.manifest_client import ManifestClient
from client_fetch.partial_file import PartialFile
from client_fetch.planner import SourcePlanner
from client_fetch.progress import Progress
from client_fetch.sources.base import FetchReport
from client_fetch.sources.chunked_source import DONORS, ChunkedSource
from client_fetch.sources.delta_source import DeltaSource
from client_fetch.sources.http_source import HttpSource
from client_fetch.trust import TrustStore
from image_format.chunks import PackRange
from image_format.envelope import load_public_keys
from image_format.names import ImageRef
from tests.fakes.fault_proxy import Faults, fault_proxy
from tests.fixtures.distributor_server import RunningDistributor, publish, running_distributor
from tests.support import ClientRun, cache_state, run_client
from tests.update_helpers import (
    BLOCK,
    MIB,
    Published,
    allocated,
    chunk_cost,
    compressed_size,
    flip_byte,
    origin_bytes,
    pack_file,
    publish_versions,
    served_index,
    signed_manifest,
)

# -- the server, and running the client -----------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDistributor]:
    with running_distributor(tmp_path_factory.mktemp("updates") / "distributor") as running:
        yield running


@pytest.fixture(scope="module")
def deb(server: RunningDistributor, tmp_path_factory: pytest.TempPathFactory) -> Published:
    """v1 and v2 of "deb", never damaged: tests that only read share it."""
    return publish_versions(server, tmp_path_factory.mktemp("deb"), "deb", seed=1)


def get(
    server: RunningDistributor,
    cache: Path,
    ref: str,
    *extra: str,
    servers: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> ClientRun:
    urls = servers or [server.url]
    return run_client(
        "get",
        ref,
        *[arg for url in urls for arg in ("--server", url)],
        *("--key", server.public_key, "--cache", str(cache), "--json"),
        *extra,
        env={**os.environ, **(env or {})},
    )


def fetched(run: ClientRun, expected: Path, method: str) -> dict[str, Any]:
    """The run's JSON after checking it succeeded by `method` with exactly `expected`'s bytes."""
    assert run.returncode == 0, run.stderr
    result = run.json()
    assert result["method"] == method, result
    assert Path(result["path"]).read_bytes() == expected.read_bytes()
    return result


def host_with_v1(server: RunningDistributor, published: Published, cache: Path) -> None:
    fetched(get(server, cache, published.ref(1)), published.path(1), "http")


# -- delta ----------------------------------------------------------------------------------------


def test_a_host_with_v1_gets_v2_as_the_signed_patch_alone(
    server: RunningDistributor, deb: Published, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    host_with_v1(server, deb, cache)
    v1, v2 = deb.manifest(1), deb.manifest(2)
    [delta] = v2.deltas
    assert delta.from_sha256 == v1.sha256
    assert delta.size < v2.size // 10  # realistic: the patch is a small part of the image
    patch_sent, image_sent = origin_bytes(server, delta.sha256), origin_bytes(server, v2.sha256)

    result = fetched(get(server, cache, deb.ref(2)), deb.path(2), "delta")
    assert result["bytes_downloaded"] == delta.size
    assert result["bytes_by_source"] == {server.url: delta.size}
    assert origin_bytes(server, delta.sha256) - patch_sent == delta.size
    assert origin_bytes(server, v2.sha256) == image_sent
    # The base is still cached, unpinned; the patch did not stay in downloads/.
    host = HostCache(cache)
    assert host.lookup(v1.sha256, v1.size) is not None
    assert host.pins_of(v1.sha256) == []
    assert cache_state(cache) == {"images": sorted([v1.sha256, v2.sha256]), "downloads": []}
    # Apply wrote the zero runs as holes.
    cost = chunk_cost(server, v2, [])
    assert allocated(Path(result["cache_path"])) < v2.size - cost.zero_bytes // 2


def test_a_delta_hands_the_verifier_the_digest_it_computed_while_applying(
    server: RunningDistributor, deb: Published, tmp_path: Path
) -> None:
    """Apply hashes all it writes and matches the patch's result digest, which is the manifest's:
    the verifier takes that digest instead of reading the image again."""
    cache = tmp_path / "cache"
    host_with_v1(server, deb, cache)
    v2 = deb.manifest(2)
    http = HttpSource(
        server.url,
        read_bytes=1 << 20,
        connect_timeout_seconds=5,
        stall_timeout_seconds=5,
        tls_context=TrustStore().context,
    )
    source = DeltaSource(HostCache(cache), [http], None, lambda _: None)
    partial = PartialFile(tmp_path / "v2.partial")
    with partial:
        partial.open_unordered(v2.size)
        assert partial.running_digest() is None  # unordered: nothing known yet
        source.fetch(v2, partial, Progress("v2", v2.size), FetchReport())
    assert partial.running_digest() == v2.sha256
    assert partial.path.read_bytes() == deb.path(2).read_bytes()


@pytest.mark.parametrize("fault", ["corrupt-on-server", "truncated-by-mirror", "damaged-base"])
def test_a_bad_delta_falls_back_to_chunks_and_the_result_verifies(
    server: RunningDistributor, deb: Published, tmp_path: Path, fault: str
) -> None:
    """A patch for another base cannot reach `apply` through the signed manifest: `from_sha256`
    is signed and the patch is fetched by its signed digest, so the header always names the base
    the fetcher chose. What can differ is the base on disk: the cache's `lookup` checks the size
    only, so a cached v1 damaged in place is the real "another base"; apply's base check refuses
    it. The corrupt and truncated patches never reach apply (digest and size checks)."""
    published = deb  # only the server-side damage needs an image of its own
    if fault == "corrupt-on-server":
        published = publish_versions(server, tmp_path / "images", "bad-patch", seed=21)
    v1, v2 = published.manifest(1), published.manifest(2)
    [delta] = v2.deltas
    cache = tmp_path / "cache"
    host_with_v1(server, published, cache)
    cost = chunk_cost(server, v2, [v1])
    patch_bytes, extra_chunk_bytes = delta.size, 0
    servers = [server.url]
    with fault_proxy(server.url) as (proxy, faults):
        if fault == "corrupt-on-server":
            flip_byte(next((server.data_dir / "blobs").rglob(delta.sha256)), delta.size // 2)
        elif fault == "truncated-by-mirror":
            faults.blob_digest, faults.truncate_after = delta.sha256, delta.size // 2
            patch_bytes = delta.size // 2
            servers = [proxy]
        else:
            v1_index = served_index(server, v1)
            held = {span.chunk_id for span in served_index(server, v2).spans}
            shared = next(s for s in v1_index.spans if not s.is_zero and s.chunk_id in held)
            flip_byte(cache / "images" / v1.sha256, shared.offset + 100)
            extra_chunk_bytes = compressed_size(server, v1, shared.chunk_id)  # no donor has it
        result = fetched(
            get(server, cache, published.ref(2), servers=servers), published.path(2), "chunks"
        )
        if fault == "truncated-by-mirror":
            assert faults.blob_bytes_sent == patch_bytes
    # The delta was tried first and moved its (bad) bytes; then chunks rebuilt the image.
    by_source = result["bytes_by_source"]
    assert by_source[servers[0]] >= patch_bytes + cost.remote_min + extra_chunk_bytes
    assert HostCache(cache).pins_of(v1.sha256) == []
    assert cache_state(cache)["downloads"] == []
    if fault == "damaged-base":
        # The damaged v1 is quarantined, never handed out again (nor used as a donor).
        assert v1.sha256 not in cache_state(cache)["images"]
        assert any(p.name.startswith(v1.sha256) for p in (cache / "quarantine").iterdir())
        assert by_source.get(DONORS, 0) == 0
    else:
        assert by_source[DONORS] > 0


def test_a_patch_cut_short_by_one_mirror_is_resumed_from_the_next(
    server: RunningDistributor, deb: Published, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    host_with_v1(server, deb, cache)
    [delta] = deb.manifest(2).deltas
    cut = delta.size // 3
    with fault_proxy(server.url, Faults(blob_digest=delta.sha256, truncate_after=cut)) as (
        mirror,
        faults,
    ):
        run = get(server, cache, deb.ref(2), servers=[mirror, server.url])
    result = fetched(run, deb.path(2), "delta")
    assert faults.blob_bytes_sent == cut
    assert result["bytes_by_source"] == {mirror: cut, server.url: delta.size - cut}
    assert cache_state(cache)["downloads"] == []


# -- chunks ---------------------------------------------------------------------------------------


def test_chunks_for_a_host_with_v1_move_only_the_missing_chunks(
    server: RunningDistributor, deb: Published, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    host_with_v1(server, deb, cache)
    v1, v2 = deb.manifest(1), deb.manifest(2)
    cost = chunk_cost(server, v2, [v1])
    assert cost.donor_bytes > v2.size // 4
    image_sent = origin_bytes(server, v2.sha256)

    result = fetched(get(server, cache, deb.ref(2), "--via", "chunks"), deb.path(2), "chunks")
    moved = result["bytes_downloaded"]
    assert cost.remote_min <= moved <= cost.remote_max
    assert moved < v2.size * 2 // 5
    assert result["bytes_by_source"] == {server.url: moved, DONORS: cost.donor_bytes}
    assert origin_bytes(server, v2.sha256) == image_sent  # not one byte of the image blob
    assert cache_state(cache)["downloads"] == []


def test_a_host_two_versions_behind_reads_coalesced_ranges_gaps_counted(
    server: RunningDistributor, tmp_path: Path
) -> None:
    """v3 = v2 with one of v2's new chunks rewritten: a host holding v1 needs v2's other new
    chunks (v2's pack, around the dropped one) and v3's own (v3's pack). The dropped frame is
    a gap inside one coalesced range: read, discarded, and counted in the bytes moved."""
    published = publish_versions(server, tmp_path / "images", "skipper", seed=41)
    v1, v2 = published.manifest(1), published.manifest(2)
    old = {span.chunk_id for span in served_index(server, v1).spans}
    fresh = [s for s in served_index(server, v2).data_spans if s.chunk_id not in old]
    assert len(fresh) >= 3
    dropped = fresh[len(fresh) // 2]
    data = bytearray(published.path(2).read_bytes())
    data[dropped.offset : dropped.offset + BLOCK] = os.urandom(BLOCK)
    v3_path = tmp_path / "images" / "skipper-3.img"
    v3_path.write_bytes(bytes(data))
    publish(server, "skipper", "3", v3_path)
    v3 = signed_manifest(server, "skipper", "3")
    cache = tmp_path / "cache"
    host_with_v1(server, published, cache)
    cost = chunk_cost(server, v3, [v1])
    assert len({r.pack for r in cost.ranges}) == 2
    waste = sum(r.waste for r in cost.ranges)
    assert waste >= compressed_size(server, v2, dropped.chunk_id)
    run = get(server, cache, "skipper@3", "--via", "chunks")
    result = fetched(run, v3_path, "chunks")
    assert result["bytes_downloaded"] == cost.remote_max == cost.remote_min + waste


def test_chunks_for_a_cold_host_write_zero_runs_as_holes(
    server: RunningDistributor, deb: Published, tmp_path: Path
) -> None:
    v2 = deb.manifest(2)
    cost = chunk_cost(server, v2, [])
    assert cost.zero_bytes > v2.size // 4
    run = get(server, tmp_path / "cache", deb.ref(2), "--via", "chunks")
    result = fetched(run, deb.path(2), "chunks")
    moved = result["bytes_downloaded"]
    assert cost.remote_min <= moved <= cost.remote_max
    assert result["bytes_by_source"].get(DONORS, 0) == 0
    assert allocated(Path(result["cache_path"])) < v2.size - cost.zero_bytes // 2


def test_a_pack_missing_on_the_server_falls_back_to_http_which_resumes(
    server: RunningDistributor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISTRIBUTOR_DELTA_FROM_VERSIONS", "0")  # no patch: auto tries chunks first
    published = publish_versions(server, tmp_path / "images", "nochunk", seed=31)
    v1, v2 = published.manifest(1), published.manifest(2)
    assert v2.deltas == ()
    cache = tmp_path / "cache"
    host_with_v1(server, published, cache)
    cost = chunk_cost(server, v2, [v1])
    gone = cost.missing[0]
    [pack] = {r.pack for r in cost.ranges}  # v2's new chunks: one pack of its own
    offset = next(s.offset for s in served_index(server, v2).spans if s.chunk_id == gone)
    pack_file(server, pack).unlink()

    only = get(
        server, cache, published.ref(2), "--via", "chunks", env={"CLIENT_FETCH_RETRY_ROUNDS": "1"}
    )
    assert only.returncode == 5, only.stderr
    assert gone in only.stderr
    assert HostCache(cache).lookup(v2.sha256, v2.size) is None

    fetched(get(server, cache, published.ref(2)), published.path(2), "http")
    # Chunks wrote everything before the first missing one; HTTP resumed exactly there.
    assert origin_bytes(server, v2.sha256) == v2.size - offset


def _bytes_in(ranges: list[PackRange]) -> int:
    return sum(r.length for r in ranges)


def test_a_pack_missing_on_one_mirror_comes_from_the_next(
    server: RunningDistributor, deb: Published, tmp_path: Path
) -> None:
    """A cold host needs ranges of v1's packs (what v2 shares) and of v2's own pack; the first
    mirror lacks v2's pack, so those ranges come from the second."""
    v2 = deb.manifest(2)
    cost = chunk_cost(server, v2, [])
    v2_pack = served_index(server, v2).packs()[-1]
    on_server = [r for r in cost.ranges if r.pack == v2_pack]
    on_mirror = [r for r in cost.ranges if r.pack != v2_pack]
    assert on_server and on_mirror
    with fault_proxy(server.url, Faults(chunk_missing=frozenset({v2_pack}))) as (mirror, faults):
        run = get(
            server, tmp_path / "cache", deb.ref(2), "--via", "chunks", servers=[mirror, server.url]
        )
    result = fetched(run, deb.path(2), "chunks")
    by_source = result["bytes_by_source"]
    assert by_source[server.url] == _bytes_in(on_server)
    assert by_source[mirror] == faults.chunk_bytes_sent == _bytes_in(on_mirror)
    assert faults.chunk_requests == len(cost.ranges)  # every range asked of the mirror first
    assert result["bytes_downloaded"] == cost.remote_max  # coalesced: nothing fetched twice


def test_a_corrupt_chunk_from_one_mirror_is_fetched_from_the_other(
    server: RunningDistributor, deb: Published, tmp_path: Path
) -> None:
    """The bad mirror flips byte 64 of every range it sends: the first chunk of each range fails
    its check and is fetched alone from the other mirror; the rest of the range is kept."""
    v2 = deb.manifest(2)
    cost = chunk_cost(server, v2, [])
    with fault_proxy(server.url, Faults(chunk_corrupt_offset=64)) as (mirror, faults):
        run = get(
            server, tmp_path / "cache", deb.ref(2), "--via", "chunks", servers=[mirror, server.url]
        )
    result = fetched(run, deb.path(2), "chunks")
    by_source = result["bytes_by_source"]
    first_frames = [r.members[0][1] for r in cost.ranges]
    assert all(location.length > 64 for location in first_frames)
    assert by_source[server.url] == sum(location.length for location in first_frames)
    assert by_source[mirror] == faults.chunk_bytes_sent == cost.remote_max
    assert faults.chunk_requests == len(cost.ranges)
    # Each bad chunk is a piece that failed its hash and was refetched (swarm health counts it).
    assert result["hash_failures"] == len(cost.ranges)


# -- nothing moves when donors hold every chunk ---------------------------------------------------


class UntouchableMirror(PackMirror):
    """A server's packs that fail the test if anything asks them for a range."""

    def __init__(self, url: str, client: httpx.Client, touched: list[str]) -> None:
        super().__init__(url, client)
        self.touched = touched

    def read(self, pack: str, start: int, end: int) -> bytes:
        self.touched.append(pack)
        raise AssertionError(f"pack {pack} was read although donors hold every chunk")


class UntouchableStore(HttpChunkStore):
    """A server's chunk store that fails the test if anything asks it for a chunk."""

    touched: list[str]

    def __init__(self, url: str, client: httpx.Client, touched: list[str]) -> None:
        super().__init__(url, client)
        self.touched = touched

    def get(self, chunk_id: str, size: int) -> bytes:
        self.touched.append(chunk_id)
        raise AssertionError(f"chunk {chunk_id} was fetched although a donor holds it")

    def has(self, chunk_id: str) -> bool:
        self.touched.append(chunk_id)
        raise AssertionError(f"chunk {chunk_id} was looked up on a server")


def _segments(data: bytes) -> list[bytes]:
    """`data` cut after each zero run: every segment but maybe the last ends in zeros."""
    zero = bytes(BLOCK)
    segments, start, at = [], 0, 0
    while at < len(data):
        while at < len(data) and data[at : at + BLOCK] != zero:
            at += BLOCK
        while at < len(data) and data[at : at + BLOCK] == zero:
            at += BLOCK
        segments.append(data[start:at])
        start = at
    return segments


def _only_zero_runs_added(data: bytes) -> bytes:
    """Every zero run 64 KiB longer, and 1 MiB of zeros appended."""
    return b"".join(
        s + bytes(16 * BLOCK) if s.endswith(bytes(BLOCK)) else s for s in _segments(data)
    ) + bytes(MIB)


def _segments_reordered(data: bytes) -> bytes:
    """The segments between zero runs in reverse order (the last, not ending in zeros, kept last):
    every chunk starts after a zero run or at 0 either way, so the cuts fall in the same places."""
    segments = _segments(data)
    return b"".join([*reversed(segments[:-1]), segments[-1]])


@pytest.mark.parametrize(
    ("name", "build"),
    [("zero-runs-added", _only_zero_runs_added), ("reordered", _segments_reordered)],
    ids=["zero-runs-added", "reordered"],
)
def test_nothing_moves_when_donors_hold_every_chunk(
    server: RunningDistributor,
    deb: Published,
    tmp_path: Path,
    name: str,
    build: Callable[[bytes], bytes],
) -> None:
    """The donor is cached as deb@1; the target is another image name built from its bytes."""
    target = tmp_path / "target.img"
    target.write_bytes(build(deb.path(1).read_bytes()))
    publish(server, name, "1", target)
    v1, v2 = deb.manifest(1), signed_manifest(server, name, "1")
    cost = chunk_cost(server, v2, [v1])
    assert cost.missing == [] and cost.donor_bytes > 0  # the premise: donors cover all data

    cache = tmp_path / "cache"
    host_with_v1(server, deb, cache)
    touched: list[str] = []
    host = HostCache(cache)
    with httpx.Client() as client:
        chunked = ChunkedSource(
            [server.url],
            client,
            ChunkIndexes(host, client, [server.url]),
            parallel_requests=4,
            store_factory=lambda url: UntouchableStore(url, client, touched),
            mirror_factory=lambda url: UntouchableMirror(url, client, touched),
        )
        no_wait = Backoff(0.0, 0.0, sleep=lambda _: None)
        fetcher = Fetcher(
            cache=host,
            manifests=ManifestClient(
                client, [server.url], load_public_keys(server.public_key), no_wait, 1
            ),
            planner=SourcePlanner("chunks", [], None, lambda _: None, 2, [chunked]),
            backoff=no_wait,
            policy=FetchPolicy(rounds=1),
            progress_factory=lambda label, total: Progress(label, total),
        )
        result = fetcher.get(ImageRef.parse(f"{name}@1"))
    assert touched == []
    assert result.method == "chunks" and result.bytes_downloaded == 0
    assert result.bytes_by_source == {server.url: 0, DONORS: cost.donor_bytes}
    assert result.path.read_bytes() == target.read_bytes()
    assert allocated(result.path) < v2.size - cost.zero_bytes // 2
