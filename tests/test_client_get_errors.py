"""`client-fetch get`'s own mistakes and the job's: `--out` placement, the progress file, an
invalid `--pin`, malformed or duplicate `--server` URLs. Each is a typed error with its exit code
and a JSON error object, never a traceback, and a bad argument is refused before any download."""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from client_fetch.backoff import Backoff
from client_fetch.cache import HostCache
from client_fetch.errors import ExitCode, ImageNotFound, PlacementError
from client_fetch.manifest_client import ManifestClient
from client_fetch.placement import place
from client_fetch.progress import Progress
from client_fetch.settings import ClientSettings
from client_fetch.wiring import fetcher_for
from image_format.envelope import load_public_keys
from image_format.names import ImageRef
from tests.fixtures.distributor_server import RunningDistributor, publish, running_distributor
from tests.support import ClientRun, cache_state, make_image, run_client

SIZE = 1024 * 1024 + 4321


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDistributor]:
    folder = tmp_path_factory.mktemp("get-errors")
    with running_distributor(folder / "distributor") as running:
        image = folder / "deb.img"
        make_image(image, SIZE, seed=3)
        publish(running, "deb", "1.0", image)
        yield running


def get(server: RunningDistributor, cache: Path, *extra: str, ref: str = "deb@1.0") -> ClientRun:
    servers = [arg for arg in extra if arg.startswith("--server")]
    args = [] if servers else ["--server", server.url]
    return run_client(
        "get", ref, *args, "--key", server.public_key, "--cache", str(cache), "--json", *extra
    )


def refused(run: ClientRun, code: ExitCode, text: str) -> None:
    assert run.returncode == code, run.stderr
    assert "Traceback" not in run.stderr
    error = run.json()
    assert error["exit_code"] == code and error["error"] == code.name.lower()
    assert text in error["detail"]


# -- --out ----------------------------------------------------------------------------------------


def test_out_under_a_file_is_a_usage_error_and_the_image_stays_cached(
    server: RunningDistributor, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    run = get(server, tmp_path / "cache", "--out", str(blocker / "disk.img"))
    refused(run, ExitCode.USAGE, f"cannot place the image at {blocker / 'disk.img'}")
    assert len(cache_state(tmp_path / "cache")["images"]) == 1


def test_out_naming_a_directory_is_a_usage_error_and_leaves_nothing_beside_it(
    server: RunningDistributor, tmp_path: Path
) -> None:
    task = tmp_path / "task"
    (task / "disk.img").mkdir(parents=True)
    run = get(server, tmp_path / "cache", "--out", str(task / "disk.img"))
    refused(run, ExitCode.USAGE, "Is a directory")
    assert os.listdir(task) == ["disk.img"]
    assert os.listdir(task / "disk.img") == []
    [image] = cache_state(tmp_path / "cache")["images"]
    assert (tmp_path / "cache" / "images" / image).stat().st_nlink == 1  # no link left anywhere


def test_a_copy_that_fails_for_want_of_space_is_a_cache_class_error_leaving_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = tmp_path / "image"
    image.write_bytes(b"x" * 100)

    def disk_full(source: Path, target: Path) -> None:
        Path(target).write_bytes(b"x" * 10)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))

    monkeypatch.setattr(shutil, "copyfile", disk_full)
    with pytest.raises(PlacementError) as caught:
        place(image, tmp_path / "out" / "disk.img", copy=True)
    assert caught.value.exit_code == ExitCode.CACHE_ERROR
    assert "disk full" in str(caught.value)
    assert os.listdir(tmp_path / "out") == []


# -- the progress file ----------------------------------------------------------------------------


def test_a_progress_file_in_a_missing_directory_is_a_usage_error_on_a_miss_and_a_hit(
    server: RunningDistributor, tmp_path: Path
) -> None:
    missing = tmp_path / "nodir" / "fraction_done"
    miss = get(server, tmp_path / "cold", "--progress-file", str(missing))
    refused(miss, ExitCode.USAGE, "no such directory")
    assert cache_state(tmp_path / "cold")["images"] == []  # refused before downloading

    assert get(server, tmp_path / "warm").returncode == 0
    hit = get(server, tmp_path / "warm", "--progress-file", str(missing))
    refused(hit, ExitCode.USAGE, "no such directory")
    env = {**os.environ, "CLIENT_FETCH_PROGRESS_FILE": str(missing)}
    from_env = run_client(
        "get",
        "deb@1.0",
        *("--server", server.url, "--key", server.public_key),
        *("--cache", str(tmp_path / "warm"), "--json"),
        env=env,
    )
    refused(from_env, ExitCode.USAGE, "no such directory")


def test_progress_writes_that_fail_later_are_reported_once_and_never_raise(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    slot = tmp_path / "slot"
    slot.mkdir()
    progress = Progress("deb@1.0", 100, progress_file=slot / "fraction_done")
    assert (slot / "fraction_done").read_text() == "0.0000\n"
    shutil.rmtree(slot)  # the task's slot directory went away
    progress.advance(50)
    progress.finish()
    assert capsys.readouterr().err.count("cannot write the progress file") == 1

    slot.mkdir()
    quiet = Progress("deb@1.0", 100, progress_file=slot / "fraction_done", quiet=True)
    shutil.rmtree(slot)
    quiet.finish()
    assert capsys.readouterr().err == ""  # `get --quiet`


def test_a_progress_file_lost_at_the_end_still_pins_and_records(
    server: RunningDistributor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slot = tmp_path / "slot"
    slot.mkdir()
    real_finish = Progress.finish

    def finish_after_the_slot_went(self: Progress) -> None:
        shutil.rmtree(slot, ignore_errors=True)  # after the image was promoted
        real_finish(self)

    monkeypatch.setattr(Progress, "finish", finish_after_the_slot_went)
    settings = ClientSettings(
        servers=[server.url],
        key=server.public_key,
        cache_dir=tmp_path / "cache",
        progress_file=slot / "fraction_done",
        report_fetches=False,
    )
    with fetcher_for(settings, "http", show_progress=False) as (fetcher, _):
        result = fetcher.get(ImageRef.parse("deb@1.0"), pin_task="T1")
    assert result.method == "http" and not slot.exists()
    cache = HostCache(tmp_path / "cache")
    assert [pin.task for pin in cache.pins_of(result.digest)] == ["T1"]
    cached = cache.lookup_ref("deb", "1.0")
    assert cached is not None and cached.digest == result.digest


# -- --pin, --server ------------------------------------------------------------------------------


def test_an_invalid_pin_task_is_refused_before_downloading(
    server: RunningDistributor, tmp_path: Path
) -> None:
    run = get(server, tmp_path / "cache", "--pin", "../evil")
    refused(run, ExitCode.USAGE, "task id")
    assert cache_state(tmp_path / "cache")["images"] == []


@pytest.mark.parametrize("url", ["http://127.0.0.1:notaport", "http://", "http://[::1"])
def test_a_malformed_server_url_is_a_usage_error(
    server: RunningDistributor, tmp_path: Path, url: str
) -> None:
    run = get(server, tmp_path / "cache", "--server", url)
    refused(run, ExitCode.USAGE, "server URL")


def test_the_same_server_twice_still_says_no_such_image(
    server: RunningDistributor, tmp_path: Path
) -> None:
    servers = ("--server", server.url, "--server", server.url + "/")
    refused(
        get(server, tmp_path / "cache", *servers, ref="nosuch@1"), ExitCode.NOT_FOUND, "no such"
    )
    same = ["http://Mirror.example:80/", "http://mirror.example", "http://mirror.example/x/"]
    assert ClientSettings(servers=same).servers == [
        "http://Mirror.example:80",
        "http://mirror.example/x",
    ]


def test_a_manifest_client_given_one_server_twice_says_not_found(
    server: RunningDistributor,
) -> None:
    keys = load_public_keys(server.public_key)
    with httpx.Client() as client:
        manifests = ManifestClient(
            client, [server.url, server.url], keys, Backoff(0, 0, sleep=lambda _: None), 1
        )
        with pytest.raises(ImageNotFound):
            manifests.get(ImageRef.parse("nosuch@1"))


class _DownUntil(httpx.BaseTransport):
    """Refuses every connection until the virtual clock reaches `up_at` (a restarting server)."""

    def __init__(self, clock: list[float], up_at: float) -> None:
        self._clock, self._up_at = clock, up_at
        self._real = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._clock[0] < self._up_at:
            raise httpx.ConnectError("connection refused", request=request)
        return self._real.handle_request(request)


def test_the_default_retries_ride_out_a_server_down_for_seven_seconds(
    server: RunningDistributor,
) -> None:
    """A distributor restarting (a deploy) used to fail every fetch starting then: 3 rounds
    waited ~1-2 s in all. The defaults now wait 7.75-15.5 s (virtual time here)."""
    defaults = ClientSettings()
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    backoff = Backoff(defaults.backoff_initial_seconds, defaults.backoff_max_seconds, sleep=sleep)
    keys = load_public_keys(server.public_key)
    with httpx.Client(transport=_DownUntil(clock, up_at=7.0)) as client:
        manifests = ManifestClient(client, [server.url], keys, backoff, defaults.retry_rounds)
        with pytest.raises(ImageNotFound):  # the server was reached, and has no such image
            manifests.get(ImageRef.parse("nosuch@1"))
    assert clock[0] >= 7.0
