"""Deltas at publish, over a real distributor: v3's signed manifest names patches from v2 and v1,
the server serves them as blobs (Range, immutable) with their own torrents, and each patch applied
to its base gives v3's bytes. Plus the step's skip rules, without a server."""

from __future__ import annotations

import hashlib
import io
import json
import random
from pathlib import Path

import httpx

from distributor.catalog import open_catalog
from distributor.deltas.publish_step import DeltaPublishStep
from distributor.publishing import Publisher
from distributor.storage.blob_store import LocalBlobStore
from distributor.storage.storage_lock import StorageLock
from image_format.delta import apply_delta, read_header
from image_format.envelope import PublicKey
from image_format.signing import SigningKey, verify_signed_manifest
from swarm.torrent_file import parse_torrent
from tests.fixtures.distributor_server import RunningDistributor, publish

SIZE = 3 * (1 << 20) + 777


def _versions(folder: Path) -> list[Path]:
    """v1, then v2 and v3 each a few edits (in-place, insertion, new data) on the one before."""
    rng = random.Random(11)
    data = bytearray(rng.randbytes(SIZE // 2) + bytes(SIZE - SIZE // 2))
    paths = []
    for number in (1, 2, 3):
        if number > 1:
            data[rng.randrange(len(data)) : 0] = b""
            data[rng.randrange(SIZE // 2) : 0] = rng.randbytes(5000)  # shifts what follows
            start = rng.randrange(SIZE // 2)
            data[start : start + 20_000] = rng.randbytes(20_000)
            data += rng.randbytes(9000)
        path = folder / f"v{number}.img"
        path.write_bytes(bytes(data))
        paths.append(path)
    return paths


def test_v3_manifest_names_served_patches_that_rebuild_v3(
    tmp_path: Path, distributor: RunningDistributor
) -> None:
    v1, v2, v3 = _versions(tmp_path)
    sums = [
        publish(distributor, "debian", str(n), path)["sha256"]
        for n, path in ((1, v1), (2, v2), (3, v3))
    ]
    with httpx.Client(base_url=distributor.url) as http:
        raw = http.get("/v1/images/debian/versions/3/manifest").content
        manifest = verify_signed_manifest(raw, [PublicKey.parse(distributor.public_key)])
        assert [d.from_version for d in manifest.deltas] == ["2", "1"]
        assert [d.from_sha256 for d in manifest.deltas] == [sums[1], sums[0]]
        v2_manifest = verify_signed_manifest(
            http.get("/v1/images/debian/versions/2/manifest").content,
            [PublicKey.parse(distributor.public_key)],
        )
        assert [d.from_version for d in v2_manifest.deltas] == ["1"]
        for delta, base in zip(manifest.deltas, (v2, v1), strict=True):
            answer = http.get(f"/v1/blobs/sha256/{delta.sha256}")
            assert answer.status_code == 200
            assert "immutable" in answer.headers["cache-control"]
            patch = answer.content
            assert len(patch) == delta.size < 0.9 * SIZE
            assert hashlib.sha256(patch).hexdigest() == delta.sha256
            part = http.get(f"/v1/blobs/sha256/{delta.sha256}", headers={"Range": "bytes=10-99"})
            assert part.status_code == 206 and part.content == patch[10:100]
            header = read_header(io.BytesIO(patch))
            assert (header.old_sha256, header.new_sha256) == (delta.from_sha256, sums[2])
            out = tmp_path / f"from-{delta.from_version}.img"
            apply_delta(base, io.BytesIO(patch), out)
            assert out.read_bytes() == v3.read_bytes()
            assert delta.torrent is not None
            torrent = http.get(f"/v1/torrents/sha256/{delta.torrent.sha256}")
            assert torrent.status_code == 200
            parsed = parse_torrent(torrent.content)
            assert parsed.total_size == delta.size
            assert parsed.web_seeds == (f"{distributor.url}/v1/blobs/sha256/{delta.sha256}",)


def _publisher(tmp_path: Path, step_kwargs: dict[str, object]) -> tuple[Publisher, LocalBlobStore]:
    blobs = LocalBlobStore(tmp_path / "blobs")
    catalog = open_catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    step = DeltaPublishStep(catalog, blobs, from_versions=2, level=3, **step_kwargs)  # type: ignore[arg-type]
    lock = StorageLock(tmp_path)
    return Publisher(blobs, catalog, SigningKey.generate(), [step], lock=lock), blobs


def _deltas(publisher: Publisher, path: Path, version: str) -> list[str]:
    record = publisher.publish_file(path, "img", version).record
    return [d["from_version"] for d in json.loads(record.envelope)["signed"].get("deltas", [])]


def test_skip_rules(tmp_path: Path) -> None:
    publisher, blobs = _publisher(tmp_path, {})
    rng = random.Random(5)
    base = rng.randbytes(200_000)
    paths = {}
    for name, data in {
        "a": base,
        "b": base[:100_000] + rng.randbytes(1000) + base[100_000:],
        "same-as-b": b"",
        "unrelated": rng.randbytes(200_000),
        "tiny": b"x" * 1000,
    }.items():
        paths[name] = tmp_path / name
        paths[name].write_bytes(data)
    paths["same-as-b"].write_bytes(paths["b"].read_bytes())
    assert _deltas(publisher, paths["a"], "1") == []  # nothing earlier
    assert _deltas(publisher, paths["b"], "2") == ["1"]
    assert _deltas(publisher, paths["same-as-b"], "3") == ["1"]  # not from 2: same content
    assert _deltas(publisher, paths["unrelated"], "4") == []  # patches over 90 % dropped
    assert _deltas(publisher, paths["tiny"], "5") == []  # under 64 KiB
    # a dropped patch leaves no blob behind: four distinct images (b and same-as-b are one blob)
    # and one patch (1->2 and 1->3 are the same bytes, so the same blob)
    stored = [p for p in (tmp_path / "blobs" / "sha256").rglob("*") if p.is_file()]
    assert len(stored) == 4 + 1
    # a missing base blob is skipped, not an error
    blobs.path(hashlib.sha256(paths["unrelated"].read_bytes()).hexdigest()).unlink()
    v6 = tmp_path / "v6"
    v6.write_bytes(paths["unrelated"].read_bytes()[:150_000] + b"new")
    assert _deltas(publisher, v6, "6") == []  # bases: 5 (tiny: the patch is too big), 4 (gone)
