"""The admin upload endpoint and `distributor upload`: auth, idempotence, conflicts, checksums."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from image_format import content_paths
from image_format.envelope import load_public_keys
from image_format.signing import verify_signed_manifest
from tests.fixtures.distributor_server import RunningDistributor, run_cli, running_distributor


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDistributor]:
    root = tmp_path_factory.mktemp("upload")
    limit = {"DISTRIBUTOR_UPLOAD_MAX_BYTES": "3000000"}
    with running_distributor(root / "d", extra_env=limit) as dist:
        yield dist


def _put(
    dist: RunningDistributor,
    name: str,
    version: str,
    body: bytes,
    *,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> httpx.Response:
    url = dist.url + content_paths.version_path(name, version)
    return httpx.put(
        url, content=body, headers=dist.auth if headers is None else headers, params=params
    )


def _known(dist: RunningDistributor, name: str) -> bool:
    return httpx.get(dist.url + content_paths.image_path(name)).status_code == 200


def _temp_files(dist: RunningDistributor) -> list[Path]:
    tmp = dist.data_dir / "blobs" / "tmp"
    return list(tmp.iterdir()) if tmp.exists() else []


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer"},
    ],
)
def test_upload_without_the_right_token_is_401_and_records_nothing(
    server: RunningDistributor, headers: dict[str, str]
) -> None:
    answer = _put(server, "secret", "1", b"payload", headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.json()["error"] == "unauthorized"
    assert not _known(server, "secret")


def test_upload_new_then_idempotent_then_conflict(server: RunningDistributor) -> None:
    body = os.urandom(1_500_000)
    created = _put(server, "up", "1.0", body, params={"kind": "data"})
    assert created.status_code == 201
    assert created.headers["content-type"] == content_paths.MANIFEST_MEDIA_TYPE
    manifest = verify_signed_manifest(created.content, load_public_keys(server.public_key))
    assert (manifest.kind, manifest.sha256) == ("data", hashlib.sha256(body).hexdigest())
    again = _put(server, "up", "1.0", body, params={"kind": "data"})
    assert again.status_code == 200 and again.content == created.content
    conflict = _put(server, "up", "1.0", b"other")
    assert conflict.status_code == 409 and conflict.json()["error"] == "version_conflict"
    blob = httpx.get(server.url + content_paths.blob_path(manifest.sha256))
    assert blob.content == body
    assert not _temp_files(server)


def test_the_same_content_under_another_kind_is_409_naming_the_existing_kind(
    server: RunningDistributor,
) -> None:
    body = b"task input" * 100
    assert _put(server, "kinded", "1", body).status_code == 201
    answer = _put(server, "kinded", "1", body, params={"kind": "data"})
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"] == "kind_conflict"
    assert "'image'" in answer.json()["detail"]
    assert _put(server, "kinded", "1", body, params={"kind": "image"}).status_code == 200
    assert not _temp_files(server)


def test_upload_with_a_wrong_sha256_is_400_and_leaves_nothing(server: RunningDistributor) -> None:
    body = b"content" * 1000
    headers = {**server.auth, "X-Content-Sha256": hashlib.sha256(b"else").hexdigest()}
    answer = _put(server, "checked", "1", body, headers=headers)
    assert answer.status_code == 400 and answer.json()["error"] == "digest_mismatch"
    assert not _known(server, "checked")
    assert not (
        server.data_dir / "blobs" / content_paths.blob_relpath(hashlib.sha256(body).hexdigest())
    ).exists()
    assert not _temp_files(server)
    headers["X-Content-Sha256"] = hashlib.sha256(body).hexdigest()
    assert _put(server, "checked", "1", body, headers=headers).status_code == 201


def test_upload_beyond_the_limit_is_413(server: RunningDistributor) -> None:
    answer = _put(server, "huge", "1", bytes(3_000_001))
    assert answer.status_code == 413 and answer.json()["error"] == "upload_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is enforced while streaming
        for _ in range(4):
            yield bytes(1_000_000)

    url = server.url + content_paths.version_path("huge", "1")
    streamed = httpx.put(url, content=chunks(), headers=server.auth)
    assert streamed.status_code == 413
    assert not _known(server, "huge")
    assert not _temp_files(server)


def test_upload_invalid_names_are_400(server: RunningDistributor) -> None:
    answer = httpx.put(server.url + "/v1/images/.x/versions/1", content=b"x", headers=server.auth)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_name"
    answer = httpx.put(
        server.url + "/v1/images/x/versions/1?kind=vm", content=b"x", headers=server.auth
    )
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"


def test_cli_upload_publishes_remotely_with_exit_codes(
    server: RunningDistributor, tmp_path: Path
) -> None:
    image = tmp_path / "a.img"
    image.write_bytes(os.urandom(100_000))
    args = ["upload", "--server", server.url, "--token", server.token, "cli", "1", str(image)]
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    assert "published" in first.stdout
    assert run_cli(*args).returncode == 0
    image.write_bytes(b"changed")
    assert run_cli(*args).returncode == 3
    wrong = ["upload", "--server", server.url, "--token", "nope", "cli", "2", str(image)]
    refused = run_cli(*wrong)
    assert refused.returncode == 2
    assert "failed (HTTP 401, unauthorized): the admin token is wrong" in refused.stderr
    down = run_cli(
        "upload", "--server", "http://127.0.0.1:9", "--token", "t", "cli", "2", str(image)
    )
    assert down.returncode == 4
    assert "/v1/images/cli/versions/2 failed (no answer): " in down.stderr
    summary = httpx.get(server.url + content_paths.image_path("cli")).json()
    assert [v["version"] for v in summary["versions"]] == ["1"]
