"""Starting the server: token strength, --dev, missing keys; settings and catalog wiring."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
import pytest

from distributor.catalog import VersionRecord, open_catalog
from distributor.content.ranges import UNSATISFIABLE, ByteRange, parse_range
from distributor.errors import UnsupportedCatalogUrl, WeakAdminToken
from distributor.keys import init_keys
from distributor.local_server import distributor_command, start_local_server
from distributor.settings import DistributorSettings


def _serve(data_dir: Path, token: str, *flags: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DISTRIBUTOR_ADMIN_TOKEN": token}
    return subprocess.run(
        [*distributor_command(), "serve", "--data", str(data_dir), "--port", "1", *flags],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.mark.parametrize("token", ["", "changeme", "admin", "Password", "short-token"])
def test_serve_refuses_a_weak_admin_token(tmp_path: Path, token: str) -> None:
    init_keys(tmp_path)
    done = _serve(tmp_path, token)
    assert done.returncode == 2
    assert "admin token" in done.stderr and "--dev" in done.stderr


def test_serve_without_a_key_says_to_run_keys_init(tmp_path: Path) -> None:
    done = _serve(tmp_path, "a-strong-token-0123456789")
    assert done.returncode == 2
    assert "keys init" in done.stderr


def test_dev_mode_starts_with_an_empty_token_but_never_accepts_it(tmp_path: Path) -> None:
    init_keys(tmp_path / "d")
    env = {**os.environ, "DISTRIBUTOR_ADMIN_TOKEN": ""}
    with start_local_server(tmp_path / "d", dev=True, env=env) as srv:
        assert httpx.get(srv.url + "/readiness").status_code == 200
        answer = httpx.put(
            srv.url + "/v1/images/x/versions/1",
            content=b"x",
            headers={"Authorization": "Bearer anything"},
        )
        assert answer.status_code == 401


def test_settings_defaults_env_and_token_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = DistributorSettings()
    assert settings.effective_public_url == "http://127.0.0.1:8080"
    assert settings.effective_catalog_url.startswith("sqlite:///")
    assert settings.upload_max_bytes == 64 << 30
    with pytest.raises(WeakAdminToken):
        settings.check_admin_token()
    DistributorSettings(dev_mode=True).check_admin_token()
    monkeypatch.setenv("DISTRIBUTOR_ADMIN_TOKEN", "x" * 16)
    monkeypatch.setenv("DISTRIBUTOR_PUBLIC_URL", "https://images.example.org/")
    monkeypatch.setenv("DISTRIBUTOR_MIRROR_URLS", '["https://m1.example.org"]')
    from_env = DistributorSettings(port=9000)
    from_env.check_admin_token()
    assert from_env.effective_public_url == "https://images.example.org"
    assert from_env.mirror_urls == ["https://m1.example.org"]


@pytest.mark.parametrize("url", ["postgresql://db/catalog", "mysql://db", "sqlite:///"])
def test_open_catalog_refuses_other_schemes_clearly(url: str) -> None:
    with pytest.raises(UnsupportedCatalogUrl) as caught:
        open_catalog(url)
    if url.startswith("postgresql"):
        assert "postgresql:// is not supported yet" in str(caught.value)


def test_sqlite_catalog_latest_is_the_most_recently_published(tmp_path: Path) -> None:
    catalog = open_catalog(f"sqlite:///{tmp_path / 'c.sqlite'}")
    for version in ("2.0", "10.0", "1.5"):
        record = VersionRecord("img", version, "image", "0" * 64, 1, "2026-01-01T00:00:00Z", b"{}")
        assert catalog.add_version(record).created
    assert not catalog.add_version(record).created
    latest = catalog.latest("img")
    assert latest is not None and latest.version == "1.5"
    assert [r.version for r in catalog.list_versions("img")] == ["2.0", "10.0", "1.5"]
    assert catalog.latest("other") is None and catalog.get_version("img", "9") is None
    catalog.close()


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 10, None),
        ("bytes=0-4", 10, ByteRange(0, 5)),
        ("bytes=5-", 10, ByteRange(5, 10)),
        ("bytes=-3", 10, ByteRange(7, 10)),
        ("bytes=-30", 10, ByteRange(0, 10)),
        ("bytes=8-100", 10, ByteRange(8, 10)),
        ("bytes=10-", 10, UNSATISFIABLE),
        ("bytes=-0", 10, UNSATISFIABLE),
        ("bytes=0-", 0, UNSATISFIABLE),
        ("bytes=0-1,3-4", 10, None),
        ("bytes=4-2", 10, None),
        ("lines=0-1", 10, None),
        ("bytes=-", 10, None),
        ("bytes=\u0661-", 10, None),
    ],
)
def test_parse_range(header: str | None, size: int, expected: object) -> None:
    assert parse_range(header, size) == expected


_LONG = 5000  # digits: past Python's int() limit of 4300


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("bytes=0-" + "9" * _LONG, ByteRange(0, 10), id="huge-last-clamped"),
        pytest.param("bytes=-" + "9" * _LONG, ByteRange(0, 10), id="huge-suffix-is-all"),
        pytest.param("bytes=" + "1" * _LONG + "-", UNSATISFIABLE, id="huge-first-416"),
        pytest.param(
            "bytes=" + "1" * _LONG + "-" + "1" * (_LONG + 1), UNSATISFIABLE, id="both-huge-416"
        ),
        pytest.param("bytes=" + "2" * _LONG + "-" + "1" * _LONG, None, id="huge-last-lt-first"),
        pytest.param(
            "bytes=" + "0" * _LONG + "3-" + "0" * _LONG + "4", ByteRange(3, 5), id="zero-padded"
        ),
        pytest.param("bytes=-" + "0" * _LONG, UNSATISFIABLE, id="zero-suffix"),
        pytest.param("bytes=9223372036854775807-", UNSATISFIABLE, id="int64-max-first"),
    ],
)
def test_parse_range_reads_numbers_of_any_length(header: str, expected: object) -> None:
    assert parse_range(header, 10) == expected
