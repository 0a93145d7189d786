"""The read API over a real server: listings, signed manifests, names, errors, health."""

from __future__ import annotations

import hashlib
import http.client
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from image_format import content_paths
from image_format.catalog_schema import ErrorBody, ImageList, ImageSummary
from image_format.envelope import load_public_keys
from image_format.signing import check_manifest_identity, verify_signed_manifest
from tests.fixtures.distributor_server import RunningDistributor, publish, running_distributor


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDistributor]:
    root = tmp_path_factory.mktemp("http")
    with running_distributor(root / "d") as dist:
        for version, content in (("1.0", b"one" * 5000), ("2.0", b"two" * 5000)):
            path = root / f"{version}.img"
            path.write_bytes(content)
            publish(dist, "deb", version, path)
        data = root / "data.bin"
        data.write_bytes(b"data")
        publish(dist, "inputs", "1", data, kind="data")
        yield dist


def _raw_get(url: str, raw_path: str) -> tuple[int, bytes]:
    """GET with the path sent exactly as written (no client-side normalisation of `..`)."""
    parsed = httpx.URL(url)
    connection = http.client.HTTPConnection(parsed.host, parsed.port, timeout=10)
    try:
        connection.request("GET", raw_path)
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def _error(answer: httpx.Response, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    assert ErrorBody.model_validate(answer.json()).error == code


def test_listing_has_every_image_with_versions_oldest_first(served: RunningDistributor) -> None:
    listing = ImageList.model_validate(httpx.get(served.url + content_paths.images_path()).json())
    by_name = {image.name: image for image in listing.images}
    assert set(by_name) == {"deb", "inputs"}
    assert by_name["deb"].latest == "2.0"
    assert [v.version for v in by_name["deb"].versions] == ["1.0", "2.0"]
    assert by_name["inputs"].versions[0].kind == "data"
    answer = httpx.get(served.url + content_paths.image_path("deb"))
    one = ImageSummary.model_validate(answer.json())
    assert one == by_name["deb"]
    assert one.versions[0].sha256 == hashlib.sha256(b"one" * 5000).hexdigest()


def test_manifests_verify_with_the_public_key(served: RunningDistributor) -> None:
    keys = load_public_keys(served.public_key)
    latest = httpx.get(served.url + content_paths.latest_manifest_path("deb"))
    assert latest.status_code == 200
    assert latest.headers["content-type"] == content_paths.MANIFEST_MEDIA_TYPE
    assert latest.headers["cache-control"] == "no-cache"
    manifest = verify_signed_manifest(latest.content, keys)
    check_manifest_identity(manifest, "deb", "2.0")
    exact = httpx.get(served.url + content_paths.manifest_path("deb", "1.0"))
    assert exact.status_code == 200
    assert "max-age=60" in exact.headers["cache-control"]
    first = verify_signed_manifest(exact.content, keys)
    assert (first.version, first.size) == ("1.0", 15000)
    key_file = load_public_keys(str(served.data_dir / "keys" / "signing.pub"))
    assert verify_signed_manifest(exact.content, key_file) == first


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/v1/images/nope", "image_not_found"),
        ("/v1/images/nope/latest", "image_not_found"),
        ("/v1/images/deb/versions/9.9/manifest", "version_not_found"),
        ("/v1/images/deb/nonsense", "not_found"),
    ],
)
def test_unknown_things_are_404_error_bodies(
    served: RunningDistributor, path: str, code: str
) -> None:
    _error(httpx.get(served.url + path), 404, code)


@pytest.mark.parametrize(
    "raw_path",
    [
        "/v1/images/..",
        "/v1/images/../x",
        "/v1/images/..%2F..%2Fkeys/latest",
        "/v1/images/a%2Fb",
        "/v1/images/.hidden/latest",
        "/v1/images/deb/versions/..%2F1.0/manifest",
        "/v1/images/deb/versions/.1/manifest",
        "/v1/images/" + "x" * 129,
        "/v1/images/a%20b/latest",
        "/v1/images/deb%2Flatest",  # decoded, a route of image "deb" would match
        "/v1/images/deb%5Clatest",
        "/v1/images/deb/versions/1.0%2Fmanifest",
    ],
)
def test_invalid_names_are_400_never_500_or_traversal(
    served: RunningDistributor, raw_path: str
) -> None:
    status, body = _raw_get(served.url, raw_path)
    assert status == 400, (raw_path, body)
    assert ErrorBody.model_validate_json(body).error == "invalid_name"


def test_invalid_digest_is_400(served: RunningDistributor) -> None:
    _error(httpx.get(served.url + "/v1/blobs/sha256/ABC"), 400, "invalid_digest")
    _error(httpx.get(served.url + "/v1/blobs/sha256/" + "0" * 64), 404, "blob_not_found")


def test_health_readiness_and_docs(served: RunningDistributor) -> None:
    assert httpx.get(served.url + "/health").json() == {"status": "ok"}
    assert httpx.get(served.url + "/readiness").json() == {"status": "ready"}
    assert httpx.get(served.url + "/docs").status_code == 200
    spec = httpx.get(served.url + "/openapi.json").json()
    assert "/v1/blobs/sha256/{digest}" in spec["paths"]


def test_readiness_is_503_when_the_data_dir_is_gone(tmp_path: Path) -> None:
    with running_distributor(tmp_path / "d") as dist:
        assert httpx.get(dist.url + "/readiness").status_code == 200
        shutil.rmtree(dist.data_dir)
        _error(httpx.get(dist.url + "/readiness"), 503, "not_ready")
        assert httpx.get(dist.url + "/health").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        content_paths.images_path(),
        content_paths.image_path("deb"),
        content_paths.latest_manifest_path("deb"),
        content_paths.manifest_path("deb", "1.0"),
        "/health",
        "/v1/stats/origin",
    ],
)
def test_head_answers_like_get_without_a_body(served: RunningDistributor, path: str) -> None:
    got = httpx.get(served.url + path)
    head = httpx.head(served.url + path)
    assert (got.status_code, head.status_code) == (200, 200)
    assert head.content == b""
    for header in ("content-type", "content-length", "cache-control"):
        assert head.headers.get(header) == got.headers.get(header), header


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", content_paths.version_path("deb", "1.0"), "DELETE, PUT"),
        ("POST", content_paths.version_path("deb", "1.0"), "DELETE, PUT"),
        ("POST", content_paths.latest_manifest_path("deb"), "GET, HEAD"),
        ("PUT", content_paths.images_path(), "GET, HEAD"),
    ],
)
def test_a_wrong_method_on_a_known_path_is_405_with_allow(
    served: RunningDistributor, method: str, path: str, allow: str
) -> None:
    answer = httpx.request(method, served.url + path)
    _error(answer, 405, "method_not_allowed")
    assert answer.headers["allow"] == allow


def test_unknown_paths_stay_404_for_every_method(served: RunningDistributor) -> None:
    for method in ("GET", "PUT", "POST", "DELETE"):
        _error(httpx.request(method, served.url + "/v1/images/deb/nonsense"), 404, "not_found")
    _error(httpx.get(served.url + "/v1/nothing"), 404, "not_found")
    head = httpx.head(served.url + content_paths.latest_manifest_path("nope"))
    assert head.status_code == 404 and head.content == b""
