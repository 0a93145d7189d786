"""Publishing from the CLI and the Publisher: idempotence, conflicts, names, data files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from distributor.catalog import open_catalog
from distributor.errors import VersionConflict
from distributor.publishing import KindConflict, Publisher
from distributor.storage.blob_store import LocalBlobStore
from distributor.storage.storage_lock import StorageLock
from image_format.digest import hash_file
from image_format.errors import InvalidName
from image_format.signing import SigningKey, verify_signed_manifest
from tests.fixtures.distributor_server import run_cli

BAD_NAMES = ["../x", "a/b", "", "x" * 129, ".hidden", "a..b", "a b"]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    assert run_cli("keys", "init", "--data", str(tmp_path / "d")).returncode == 0
    return tmp_path / "d"


def _file(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def _publish(data_dir: Path, *args: str) -> tuple[int, str, str]:
    done = run_cli("publish", "--data", str(data_dir), *args)
    return done.returncode, done.stdout, done.stderr


def test_publish_then_same_content_is_idempotent_and_other_content_conflicts(
    data_dir: Path, tmp_path: Path
) -> None:
    image = _file(tmp_path, "a.img", b"first" * 1000)
    code, out, _ = _publish(data_dir, "--json", "img", "1.0", str(image))
    assert code == 0
    first = json.loads(out)
    assert first["new"] is True and first["sha256"] == hash_file(image)[0]
    assert (data_dir / "blobs" / "sha256" / first["sha256"][:2] / first["sha256"]).is_file()

    code, out, _ = _publish(data_dir, "--json", "img", "1.0", str(image))
    assert code == 0 and json.loads(out)["new"] is False

    other = _file(tmp_path, "b.img", b"second" * 1000)
    code, _, err = _publish(data_dir, "img", "1.0", str(other))
    assert code == 3
    assert first["sha256"] in err and hash_file(other)[0] in err
    assert not list((data_dir / "blobs" / "tmp").iterdir())


@pytest.mark.parametrize("bad", BAD_NAMES)
def test_publish_refuses_invalid_names_and_versions(
    data_dir: Path, tmp_path: Path, bad: str
) -> None:
    image = _file(tmp_path, "a.img", b"x")
    assert _publish(data_dir, bad, "1.0", str(image))[0] == 2
    assert _publish(data_dir, "ok", bad, str(image))[0] == 2
    assert not (tmp_path / "x").exists()


def test_publish_missing_file_is_a_usage_error(data_dir: Path, tmp_path: Path) -> None:
    assert _publish(data_dir, "img", "1", str(tmp_path / "nope"))[0] == 2


def test_publish_data_file_and_manifest_is_signed(data_dir: Path, tmp_path: Path) -> None:
    data = _file(tmp_path, "inputs.tar", b"data" * 100)
    code, out, _ = _publish(data_dir, "--kind", "data", "--json", "inputs", "7", str(data))
    assert code == 0 and json.loads(out)["kind"] == "data"
    catalog = open_catalog(f"sqlite:///{data_dir / 'catalog.sqlite'}")
    record = catalog.get_version("inputs", "7")
    catalog.close()
    assert record is not None
    key = SigningKey.load(data_dir / "keys" / "signing.key").public_key
    manifest = verify_signed_manifest(record.envelope, [key])
    assert (manifest.kind, manifest.size, manifest.sha256) == ("data", 400, record.sha256)


def test_publisher_streams_blocks_and_detects_conflicts(tmp_path: Path) -> None:
    catalog = open_catalog(f"sqlite:///{tmp_path / 'c.sqlite'}")
    publisher = Publisher(
        LocalBlobStore(tmp_path / "blobs"),
        catalog,
        SigningKey.generate(),
        lock=StorageLock(tmp_path),
    )
    result = publisher.publish_stream(iter([b"a" * 10, b"b" * 10]), "n", "1")
    assert result.created and result.record.size == 20
    again = publisher.publish_stream(iter([b"a" * 10, b"b" * 10]), "n", "1")
    assert not again.created and again.record == result.record
    with pytest.raises(VersionConflict) as caught:
        publisher.publish_stream(iter([b"c"]), "n", "1")
    assert caught.value.existing_sha256 == result.record.sha256
    with pytest.raises(InvalidName):
        publisher.publish_stream(iter([b"c"]), "../n", "1")
    assert catalog.latest("n") == result.record
    catalog.close()


def test_concurrent_publishers_of_one_version_one_wins_the_other_conflicts(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    key = SigningKey.generate()
    url = f"sqlite:///{tmp_path / 'c.sqlite'}"
    catalogs = [open_catalog(url) for _ in range(8)]  # one connection each, like processes
    blobs, lock = LocalBlobStore(tmp_path / "blobs"), StorageLock(tmp_path)
    publishers = [Publisher(blobs, c, key, lock=lock) for c in catalogs]

    def attempt(index: int) -> str:
        try:
            publishers[index].publish_stream(iter([bytes([index]) * 1000]), "race", "1")
        except VersionConflict:
            return "conflict"
        return "won"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, range(8)))
    assert outcomes.count("won") == 1 and outcomes.count("conflict") == 7
    for catalog in catalogs:
        catalog.close()


def test_publisher_refuses_the_same_content_under_another_kind(tmp_path: Path) -> None:
    catalog = open_catalog(f"sqlite:///{tmp_path / 'c.sqlite'}")
    publisher = Publisher(
        LocalBlobStore(tmp_path / "blobs"),
        catalog,
        SigningKey.generate(),
        lock=StorageLock(tmp_path),
    )
    first = publisher.publish_stream(iter([b"input"]), "task", "1", "data")
    with pytest.raises(KindConflict) as caught:
        publisher.publish_stream(iter([b"input"]), "task", "1", "image")
    assert (caught.value.existing_kind, caught.value.new_kind) == ("data", "image")
    assert isinstance(caught.value, VersionConflict) and "'data'" in str(caught.value)
    assert not publisher.publish_stream(iter([b"input"]), "task", "1", "data").created
    assert catalog.latest("task") == first.record
    catalog.close()
