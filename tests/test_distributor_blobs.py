"""Blob serving over a real server: full, HEAD, ranges, 416, ETag/304, caching, origin stats."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from image_format import content_paths
from tests.fixtures.distributor_server import RunningDistributor, publish, running_distributor

SIZE = 3 * (1 << 20) + 12345  # several stream blocks and a ragged end


@pytest.fixture(scope="module")
def blob(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RunningDistributor, bytes, str]]:
    tmp_path = tmp_path_factory.mktemp("blobs")
    content = os.urandom(SIZE)
    path = tmp_path / "blob.img"
    path.write_bytes(content)
    with running_distributor(tmp_path / "d") as dist:
        digest = publish(dist, "img", "1", path)["sha256"]
        assert digest == hashlib.sha256(content).hexdigest()
        yield dist, content, dist.url + content_paths.blob_path(digest)


def _stats(dist: RunningDistributor, digest: str) -> dict[str, int]:
    blobs: dict[str, dict[str, int]] = httpx.get(dist.url + "/v1/stats/origin").json()["blobs"]
    return blobs.get(digest, {"requests": 0, "bytes_sent": 0, "full_transfers": 0})


def test_full_get_and_head(blob: tuple[RunningDistributor, bytes, str]) -> None:
    _, content, url = blob
    digest = hashlib.sha256(content).hexdigest()
    answer = httpx.get(url)
    assert answer.status_code == 200
    assert answer.content == content
    assert answer.headers["content-length"] == str(SIZE)
    assert answer.headers["accept-ranges"] == "bytes"
    assert answer.headers["etag"] == f'"{digest}"'
    assert answer.headers["cache-control"] == content_paths.IMMUTABLE_CACHE_CONTROL
    head = httpx.head(url)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(SIZE)
    assert head.headers["etag"] == f'"{digest}"'


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=100-199", 100, 200),
        ("bytes=1048570-2097160", 1048570, 2097161),
        (f"bytes={SIZE - 10}-", SIZE - 10, SIZE),
        ("bytes=-5000", SIZE - 5000, SIZE),
        (f"bytes=5-{SIZE * 2}", 5, SIZE),
        (f"bytes=-{SIZE * 2}", 0, SIZE),
    ],
)
def test_single_ranges_are_206(
    blob: tuple[RunningDistributor, bytes, str], header: str, start: int, end: int
) -> None:
    _, content, url = blob
    answer = httpx.get(url, headers={"Range": header})
    assert answer.status_code == 206
    assert answer.content == content[start:end]
    assert answer.headers["content-range"] == f"bytes {start}-{end - 1}/{SIZE}"
    assert answer.headers["content-length"] == str(end - start)


@pytest.mark.parametrize("header", [f"bytes={SIZE}-", f"bytes={SIZE + 5}-{SIZE + 10}", "bytes=-0"])
def test_unsatisfiable_ranges_are_416(
    blob: tuple[RunningDistributor, bytes, str], header: str
) -> None:
    _, _, url = blob
    answer = httpx.get(url, headers={"Range": header})
    assert answer.status_code == 416
    assert answer.headers["content-range"] == f"bytes */{SIZE}"


@pytest.mark.parametrize(
    ("header", "status"),
    [
        pytest.param("bytes=0-" + "9" * 5000, 206, id="huge-last"),
        pytest.param("bytes=-" + "9" * 5000, 206, id="huge-suffix"),
        pytest.param("bytes=" + "1" * 5000 + "-", 416, id="huge-first"),
        pytest.param("bytes=" + "2" * 5000 + "-" + "1" * 5000, 200, id="huge-last-lt-first"),
    ],
)
def test_numbers_beyond_int_limits_are_ranges_like_any_other(
    blob: tuple[RunningDistributor, bytes, str], header: str, status: int
) -> None:
    _, content, url = blob
    answer = httpx.get(url, headers={"Range": header})
    assert answer.status_code == status
    if status == 416:
        assert answer.headers["content-range"] == f"bytes */{SIZE}"
    else:
        assert answer.content == content


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "items=0-5", "bytes=9-3", "bytes=x-"])
def test_multi_range_and_malformed_ranges_get_the_whole_blob(
    blob: tuple[RunningDistributor, bytes, str], header: str
) -> None:
    _, content, url = blob
    answer = httpx.get(url, headers={"Range": header})
    assert answer.status_code == 200
    assert answer.content == content


def test_etag_revalidation_and_if_range(blob: tuple[RunningDistributor, bytes, str]) -> None:
    _, content, url = blob
    etag = httpx.head(url).headers["etag"]
    not_modified = httpx.get(url, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified.headers["etag"] == etag
    assert httpx.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    same = httpx.get(url, headers={"Range": "bytes=0-9", "If-Range": etag})
    assert same.status_code == 206 and same.content == content[:10]
    changed = httpx.get(url, headers={"Range": "bytes=0-9", "If-Range": '"other"'})
    assert changed.status_code == 200 and changed.content == content


def test_origin_stats_count_requests_bytes_and_full_transfers(
    blob: tuple[RunningDistributor, bytes, str],
) -> None:
    dist, content, url = blob
    digest = hashlib.sha256(content).hexdigest()

    def delta(before: dict[str, int]) -> dict[str, int]:
        return {key: value - before[key] for key, value in _stats(dist, digest).items()}

    before = _stats(dist, digest)
    httpx.get(url)
    assert delta(before) == {"requests": 1, "bytes_sent": SIZE, "full_transfers": 1}
    httpx.get(url, headers={"Range": "bytes=0-99"})
    httpx.get(url, headers={"Range": "bytes=100-"})  # the rest, but not one full transfer
    httpx.head(url)
    httpx.get(url, headers={"If-None-Match": f'"{digest}"'})
    assert delta(before) == {"requests": 5, "bytes_sent": 2 * SIZE, "full_transfers": 1}


def test_a_client_that_leaves_early_is_charged_only_for_what_was_sent(
    blob: tuple[RunningDistributor, bytes, str], tmp_path: Path
) -> None:
    dist = blob[0]
    size = 256 << 20
    path = tmp_path / "big.img"
    with path.open("wb") as handle:
        handle.truncate(size)  # sparse: cheap to make, served like any other blob
    digest = publish(dist, "big", "1", path)["sha256"]
    received = 0
    with httpx.stream("GET", dist.url + content_paths.blob_path(digest)) as answer:
        for piece in answer.iter_raw():
            received += len(piece)
            if received >= 4 << 20:
                break
    stats = _stats(dist, digest)
    for _ in range(50):  # the server notices the disconnect asynchronously
        if stats["requests"] == 1 and stats["bytes_sent"] < 64 << 20:
            break
        time.sleep(0.05)
        stats = _stats(dist, digest)
    assert stats["full_transfers"] == 0
    assert received <= stats["bytes_sent"] < 64 << 20
