"""publish → serve → `client-fetch get` over real loopback sockets, and every documented fault."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fakes.fault_proxy import Faults, fault_proxy
from tests.fixtures.distributor_server import RunningDistributor, publish
from tests.support import cache_state, make_image, run_client

SIZE = 3 * 1024 * 1024 + 12345


@pytest.fixture()
def published(
    distributor: RunningDistributor, tmp_path: Path
) -> tuple[RunningDistributor, Path, str]:
    image = tmp_path / "deb.img"
    digest = make_image(image, SIZE, seed=1)
    publish(distributor, "deb", "1.0", image)
    return distributor, image, digest


def _get(
    dist: RunningDistributor,
    cache: Path,
    *extra: str,
    servers: list[str] | None = None,
    ref: str = "deb@1.0",
    key: str | None = None,
):
    server_args = [arg for url in (servers or [dist.url]) for arg in ("--server", url)]
    return run_client(
        "get",
        ref,
        *server_args,
        "--key",
        key or dist.public_key,
        "--cache",
        str(cache),
        "--json",
        *extra,
    )


def test_publish_serve_fetch_gives_identical_bytes_and_full_json(published, tmp_path):
    dist, image, digest = published
    cache = tmp_path / "cache"
    run = _get(dist, cache)
    assert run.returncode == 0, run.stderr
    result = run.json()
    assert Path(result["path"]).read_bytes() == image.read_bytes()
    assert result["name"] == "deb" and result["version"] == "1.0"
    assert result["digest"] == digest and result["size"] == SIZE
    assert result["method"] == "http"
    assert result["bytes_downloaded"] == SIZE
    assert result["bytes_by_source"] == {dist.url: SIZE}
    assert result["seconds"] > 0
    assert cache_state(cache) == {"images": [digest], "downloads": []}

    again = _get(dist, cache)
    assert again.returncode == 0, again.stderr
    assert again.json()["method"] == "cache" and again.json()["bytes_downloaded"] == 0
    assert again.json()["path"] == result["path"]


def test_an_image_larger_than_the_quota_is_kept_and_the_overrun_reported(published, tmp_path):
    dist, image, digest = published
    cache = tmp_path / "cache"
    run = _get(dist, cache, "--quota", "4KiB")
    assert run.returncode == 0, run.stderr
    result = run.json()
    assert Path(result["path"]).read_bytes() == image.read_bytes()
    assert result["over_quota_bytes"] >= SIZE - 4096
    assert "warning: the cache is" in run.stderr and "over its quota" in run.stderr
    assert cache_state(cache) == {"images": [digest], "downloads": []}
    env = {**os.environ, "CLIENT_FETCH_CACHE_QUOTA_BYTES": "4096"}
    listing = run_client("cache", "ls", "--cache", str(cache), env=env)
    assert digest[:12] in listing.stdout
    assert f"1 image(s) in {cache}, " in listing.stderr
    assert "bytes on disk of a 4096-byte quota" in listing.stderr
    within = _get(dist, tmp_path / "roomy", "--quota", "1GiB")
    assert within.json()["over_quota_bytes"] == 0
    assert "warning" not in within.stderr


def test_latest_and_out_placement(published, tmp_path):
    dist, image, _digest = published
    cache = tmp_path / "cache"
    out = tmp_path / "task" / "disk.img"
    run = _get(dist, cache, "--out", str(out), ref="deb")
    assert run.returncode == 0, run.stderr
    assert run.json()["version"] == "1.0"
    assert out.read_bytes() == image.read_bytes()
    assert out.stat().st_ino == Path(run.json()["cache_path"]).stat().st_ino
    copy = tmp_path / "task" / "copy.img"
    run = _get(dist, cache, "--out", str(copy), "--copy")
    assert run.returncode == 0, run.stderr
    assert copy.stat().st_ino != out.stat().st_ino and os.access(copy, os.W_OK)
    assert copy.read_bytes() == image.read_bytes()


def test_human_output_prints_path_and_writes_progress_file(published, tmp_path):
    dist, image, _ = published
    progress = tmp_path / "fraction_done"
    run = run_client(
        "get",
        "deb@1.0",
        "--server",
        dist.url,
        "--key",
        dist.public_key,
        "--cache",
        str(tmp_path / "cache"),
        "--progress-file",
        str(progress),
    )
    assert run.returncode == 0, run.stderr
    assert Path(run.stdout.strip()).read_bytes() == image.read_bytes()
    assert "via http" in run.stderr
    assert progress.read_text().strip() == "1.0000"


def test_key_from_file(published, tmp_path):
    dist, _image, _ = published
    key_file = tmp_path / "project.pub"
    key_file.write_text(f"# project key\n{dist.public_key}\n")
    run = _get(dist, tmp_path / "cache", key=str(key_file))
    assert run.returncode == 0, run.stderr


@pytest.mark.parametrize(
    ("faults", "message"),
    [
        (Faults(tamper_manifest=True), "no signature verifies"),
        (Faults(manifest_name="other@2.0"), "asked for deb@1.0"),
    ],
    ids=["tampered-manifest", "manifest-for-another-name"],
)
def test_untrusted_manifest_is_refused(published, tmp_path, faults, message):
    dist, _, _ = published
    other = tmp_path / "other.img"
    make_image(other, 1000, seed=9)
    publish(dist, "other", "2.0", other)
    cache = tmp_path / "cache"
    with fault_proxy(dist.url, faults) as (proxy, _):
        run = _get(dist, cache, servers=[proxy])
    assert run.returncode == 4, run.stderr
    assert message in run.stderr
    assert run.json()["error"] == "verification_failed"
    assert cache_state(cache)["images"] == []


def test_wrong_key_is_refused(published, tmp_path):
    from image_format.envelope import SigningKey

    dist, _, _ = published
    cache = tmp_path / "cache"
    run = _get(dist, cache, key=str(SigningKey.generate().public_key))
    assert run.returncode == 4
    assert "no signature verifies with a trusted key" in run.stderr
    assert cache_state(cache)["images"] == []


def test_malformed_key_is_a_usage_error(published, tmp_path):
    dist, _, _ = published
    run = _get(dist, tmp_path / "cache", key="ed25519:not-base64!")
    assert run.returncode == 2
    assert "cannot read key from the key given: the key is not valid base64" in run.stderr


def test_corrupted_blob_on_the_server_never_reaches_the_cache(published, tmp_path):
    dist, _, digest = published
    blob = next(p for p in (dist.data_dir / "blobs").rglob(digest))
    blob.chmod(0o644)
    with blob.open("r+b") as handle:
        handle.seek(SIZE // 2)
        byte = handle.read(1)
        handle.seek(SIZE // 2)
        handle.write(bytes([byte[0] ^ 1]))
    cache = tmp_path / "cache"
    run = _get(dist, cache)
    assert run.returncode == 4, run.stderr
    assert "verification failed" in run.stderr and digest in run.stderr
    assert cache_state(cache) == {"images": [], "downloads": []}


def test_corrupt_first_mirror_then_good_second(published, tmp_path):
    dist, image, _digest = published
    cache = tmp_path / "cache"
    with fault_proxy(dist.url, Faults(corrupt_offset=SIZE - 10)) as (bad, faults):
        run = _get(dist, cache, servers=[bad, dist.url])
    assert run.returncode == 0, run.stderr
    assert faults.blob_requests == 1
    assert Path(run.json()["path"]).read_bytes() == image.read_bytes()
    assert run.json()["bytes_by_source"] == {bad: SIZE, dist.url: SIZE}


def test_http_500_from_first_server_then_success_from_second(published, tmp_path):
    dist, image, _ = published
    cache = tmp_path / "cache"
    with fault_proxy(dist.url, Faults(status=500)) as (bad, faults):
        run = _get(dist, cache, servers=[bad, dist.url])
    assert run.returncode == 0, run.stderr
    assert faults.blob_requests == 1
    assert run.json()["bytes_by_source"] == {dist.url: SIZE}
    assert Path(run.json()["path"]).read_bytes() == image.read_bytes()


def test_truncated_body_keeps_the_partial_and_the_next_run_resumes(published, tmp_path):
    dist, image, digest = published
    cache = tmp_path / "cache"
    env = {**os.environ, "CLIENT_FETCH_RETRY_ROUNDS": "1"}
    with fault_proxy(dist.url, Faults(truncate_after=SIZE // 3)) as (bad, _):
        failed = run_client(
            "get",
            "deb@1.0",
            "--server",
            bad,
            "--key",
            dist.public_key,
            "--cache",
            str(cache),
            "--json",
            env=env,
        )
    assert failed.returncode == 5, failed.stderr
    assert "body ended after" in failed.stderr
    assert cache_state(cache) == {"images": [], "downloads": [f"{digest}.partial"]}
    run = _get(dist, cache)
    assert run.returncode == 0, run.stderr
    assert run.json()["bytes_downloaded"] == SIZE - SIZE // 3
    assert Path(run.json()["path"]).read_bytes() == image.read_bytes()


def test_stalled_server_fails_over(published, tmp_path):
    dist, image, _ = published
    cache = tmp_path / "cache"
    with fault_proxy(dist.url, Faults(stall_after=100_000, stall_seconds=20)) as (slow, _):
        run = _get(dist, cache, "--stall-timeout", "1", servers=[slow, dist.url])
    assert run.returncode == 0, run.stderr
    sources = run.json()["bytes_by_source"]
    assert sources[slow] == 100_000 and sources[dist.url] == SIZE - 100_000
    assert Path(run.json()["path"]).read_bytes() == image.read_bytes()


def test_stalled_only_server_exits_unavailable(published, tmp_path):
    dist, _, _ = published
    env = {
        **os.environ,
        "CLIENT_FETCH_RETRY_ROUNDS": "2",
        "CLIENT_FETCH_BACKOFF_INITIAL_SECONDS": "0.1",
    }
    with fault_proxy(dist.url, Faults(stall_after=0, stall_seconds=20)) as (slow, _):
        run = run_client(
            "get",
            "deb@1.0",
            "--server",
            slow,
            "--key",
            dist.public_key,
            "--cache",
            str(tmp_path / "cache"),
            "--stall-timeout",
            "1",
            env=env,
        )
    assert run.returncode == 5
    assert "stalled" in run.stderr


def test_unknown_image_and_invalid_names(published, tmp_path):
    dist, _, _ = published
    cache = tmp_path / "cache"
    missing = _get(dist, cache, ref="nosuch@1.0")
    assert missing.returncode == 3 and "no such image" in missing.stderr
    missing_version = _get(dist, cache, ref="deb@9.9")
    assert missing_version.returncode == 3
    for bad in ("../etc@1", "deb@../../x", "a/b", "deb@", ""):
        run = _get(dist, cache, ref=bad)
        assert run.returncode == 2, (bad, run.stderr)
        assert "invalid" in run.stderr or "empty" in run.stderr


def test_no_server_or_no_key_is_a_usage_error(tmp_path):
    no_server = run_client(
        "get", "deb@1.0", "--key", "ed25519:" + "A" * 43 + "=", "--cache", str(tmp_path)
    )
    assert no_server.returncode == 2 and "no server" in no_server.stderr
    no_key = run_client(
        "get",
        "deb@1.0",
        "--server",
        "http://127.0.0.1:9",
        "--cache",
        str(tmp_path),
        env={k: v for k, v in os.environ.items() if not k.startswith("CLIENT_FETCH")},
    )
    assert no_key.returncode == 2 and "no trusted key" in no_key.stderr


@pytest.mark.parametrize("command", [["cache", "ls"], ["cache", "verify"], ["cache", "gc"]])
def test_cache_commands_on_a_directory_that_does_not_exist_are_a_cache_error(tmp_path, command):
    missing = tmp_path / "typo"
    human = run_client(*command, "--cache", str(missing))
    assert human.returncode == 6, human.stderr
    assert f"host cache {missing}: no such directory" in human.stderr
    as_json = run_client(*command, "--cache", str(missing), "--json")
    assert as_json.returncode == 6
    assert as_json.json()["error"] == "cache_error"
    assert not missing.exists()  # nothing made at a mistyped path


def test_unreachable_server_exits_unavailable(tmp_path):
    from image_format.envelope import SigningKey

    env = {
        **os.environ,
        "CLIENT_FETCH_RETRY_ROUNDS": "2",
        "CLIENT_FETCH_BACKOFF_INITIAL_SECONDS": "0.05",
    }
    run = run_client(
        "get",
        "deb@1.0",
        "--server",
        "http://127.0.0.1:9",
        "--key",
        str(SigningKey.generate().public_key),
        "--cache",
        str(tmp_path),
        env=env,
    )
    assert run.returncode == 5
    assert "every source failed" in run.stderr
    # Both retry rounds failed the same way: said once, with the count.
    assert run.stderr.count("http://127.0.0.1:9: ConnectError") == 1
    assert "(2 attempts)" in run.stderr


def test_task_data_files_and_empty_files_fetch_like_images(distributor, tmp_path):
    inputs = tmp_path / "inputs.tar"
    inputs.write_bytes(b"task input " * 1000)
    publish(distributor, "inputs", "7", inputs, kind="data")
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    publish(distributor, "empty", "1", empty, kind="data")
    cache = tmp_path / "cache"
    for ref, source in (("inputs@7", inputs), ("empty@1", empty)):
        run = _get(distributor, cache, ref=ref)
        assert run.returncode == 0, run.stderr
        assert Path(run.json()["path"]).read_bytes() == source.read_bytes()
        assert run.json()["size"] == source.stat().st_size
