"""Helpers for the update tests (deltas, chunks, plans): realistic image versions published over a
real distributor, and what rebuilding one from chunks should cost, read from what the server
stores and serves.

The images are a few MiB of 4 KiB blocks: incompressible data regions (like compressed packages)
between zero runs of at least 64 KiB (free space); each later version is the one before after an
update: blocks rewritten in place, a run moved, new blocks inserted, a 1 MiB zero run inserted,
data appended.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from pathlib import Path

import httpx

from image_format.chunks import ChunkIndex, PackRange, plan_ranges
from image_format.chunks.packs import pack_relpath
from image_format.content_paths import blob_path, manifest_path
from image_format.envelope import PublicKey
from image_format.manifest import Manifest
from image_format.signing import verify_signed_manifest
from tests.fixtures.distributor_server import RunningDistributor, publish

BLOCK = 4096
MIB = 1 << 20


# -- images ---------------------------------------------------------------------------------------


def base_image(seed: int, size: int = 8 * MIB) -> bytes:
    """Random data regions between zero runs of 64 to 640 KiB, on the 4 KiB grid."""
    rng = random.Random(seed)
    out = bytearray()
    while len(out) < size:
        blocks = rng.randint(16, 160)
        out += bytes(blocks * BLOCK) if rng.random() < 0.3 else rng.randbytes(blocks * BLOCK)
    return bytes(out)


def next_version(previous: bytes, seed: int) -> bytes:
    """An update of `previous`: 3 blocks rewritten, 256 KiB moved, 64 KiB of new blocks inserted,
    a 1 MiB zero run inserted, 128 KiB appended."""
    rng = random.Random(seed)
    data = bytearray(previous)
    blocks = len(data) // BLOCK
    for _ in range(3):
        at = rng.randrange(blocks) * BLOCK
        data[at : at + BLOCK] = rng.randbytes(BLOCK)
    start = rng.randrange(blocks // 2, blocks - 64) * BLOCK
    run = data[start : start + 64 * BLOCK]
    del data[start : start + 64 * BLOCK]
    at = rng.randrange(blocks // 2) * BLOCK
    data[at:at] = run
    at = rng.randrange(blocks) * BLOCK
    data[at:at] = rng.randbytes(16 * BLOCK)
    at = rng.randrange(blocks) * BLOCK
    data[at:at] = bytes(256 * BLOCK)
    return bytes(data + rng.randbytes(32 * BLOCK))


@dataclass(frozen=True)
class Published:
    """Versions "1", "2", ... of one image name: files, digests and verified manifests."""

    name: str
    paths: list[Path]
    manifests: list[Manifest]

    def ref(self, version: int) -> str:
        return f"{self.name}@{version}"

    def manifest(self, version: int) -> Manifest:
        return self.manifests[version - 1]

    def path(self, version: int) -> Path:
        return self.paths[version - 1]


def signed_manifest(server: RunningDistributor, name: str, version: str) -> Manifest:
    raw = httpx.get(server.url + manifest_path(name, version)).content
    return verify_signed_manifest(raw, [PublicKey.parse(server.public_key)])


def publish_versions(
    server: RunningDistributor, folder: Path, name: str, seed: int, count: int = 2
) -> Published:
    """Publish `count` versions of `name`, each an update of the one before."""
    folder.mkdir(parents=True, exist_ok=True)
    data = base_image(seed)
    paths, manifests = [], []
    for number in range(1, count + 1):
        if number > 1:
            data = next_version(data, seed * 100 + number)
        path = folder / f"{name}-{number}.img"
        path.write_bytes(data)
        publish(server, name, str(number), path)
        paths.append(path)
        manifests.append(signed_manifest(server, name, str(number)))
    return Published(name, paths, manifests)


# -- what chunks cost -----------------------------------------------------------------------------


def served_index(server: RunningDistributor, manifest: Manifest) -> ChunkIndex:
    assert manifest.chunk_index is not None
    return ChunkIndex.from_bytes(
        httpx.get(server.url + blob_path(manifest.chunk_index.sha256)).content
    )


@dataclass(frozen=True)
class ChunkCost:
    """What rebuilding a target from chunks should move, given donor images on the host."""

    donor_bytes: int  # uncompressed bytes of the target's data chunks some donor holds
    remote_min: int  # compressed bytes of the distinct data chunks no donor holds
    remote_max: int  # what the Range requests move: the frames and the gaps between them
    remote_uncompressed: int  # uncompressed bytes of those spans
    zero_bytes: int  # bytes in zero chunks (holes)
    missing: list[str]  # ids of the data chunks no donor holds, in file order
    ranges: list[PackRange]  # the Range requests a fetcher makes (default coalescing)


def chunk_cost(server: RunningDistributor, target: Manifest, donors: list[Manifest]) -> ChunkCost:
    held = {span.chunk_id for donor in donors for span in served_index(server, donor).spans}
    index = served_index(server, target)
    where = {span.chunk_id: location for span, location in index.located_spans()}
    data = [span for span in index.spans if not span.is_zero]
    remote = [span for span in data if span.chunk_id not in held]
    distinct = {span.chunk_id for span in remote}
    ranges = plan_ranges((cid, where[cid]) for cid in distinct)
    return ChunkCost(
        donor_bytes=sum(span.size for span in data if span.chunk_id in held),
        remote_min=sum(where[cid].length for cid in distinct),
        remote_max=sum(r.length for r in ranges),
        remote_uncompressed=sum(span.size for span in remote),
        zero_bytes=sum(span.size for span in index.spans if span.is_zero),
        missing=[span.chunk_id for span in remote],
        ranges=ranges,
    )


def compressed_size(server: RunningDistributor, manifest: Manifest, chunk_id: str) -> int:
    """The size of a chunk's zstd frame in its pack, as the version's index says."""
    index = served_index(server, manifest)
    return next(loc.length for span, loc in index.located_spans() if span.chunk_id == chunk_id)


def pack_file(server: RunningDistributor, digest: str) -> Path:
    """Where the server stores a pack."""
    return server.data_dir / "packs" / pack_relpath(digest)


def origin_stats(server: RunningDistributor) -> dict[str, dict[str, int]]:
    """What the origin sent, per blob digest (and "chunks", "packs" for all of each)."""
    blobs: dict[str, dict[str, int]] = httpx.get(f"{server.url}/v1/stats/origin").json()["blobs"]
    return blobs


def origin_bytes(server: RunningDistributor, digest: str) -> int:
    return int(origin_stats(server).get(digest, {}).get("bytes_sent", 0))


def allocated(path: Path) -> int:
    return os.stat(path).st_blocks * 512


def flip_byte(path: Path, offset: int) -> None:
    """Damage one byte in place (read-only files made writable first)."""
    path.chmod(0o644)
    with path.open("r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0xFF]))
