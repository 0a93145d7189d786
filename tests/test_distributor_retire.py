"""Retiring a version: no longer listed, served, announced or published again; its content stays.

Through the catalog (SQLite, and one made before retiring existed), the CLI, the admin HTTP API
and the tracker, which stops answering for the retired version's torrent.
"""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

import httpx
import pytest

from distributor.catalog.sqlite import SqliteCatalog
from distributor.commands.admin_http import AdminRequestFailed, answer_fields
from distributor.tracker.service import Tracker
from distributor.tracker.torrent_index import CatalogTorrentIndex
from image_format import content_paths
from image_format.bencode import bdecode
from tests.fixtures.distributor_server import RunningDistributor, publish, run_cli
from tests.support import make_image
from tests.test_tracker_index import record, ref
from tests.test_tracker_service import query


def test_a_retired_version_is_neither_listed_nor_the_latest_and_stays_a_tombstone(
    tmp_path: Path,
) -> None:
    catalog = SqliteCatalog(tmp_path / "catalog.db")
    for version in ("1", "2"):
        catalog.add_version(record(version, None))
    before = catalog.generation()
    retired = catalog.retire_version("img", "2", "2026-11-26T00:00:00Z")
    assert retired is not None and retired.retired == "2026-11-26T00:00:00Z"
    assert catalog.generation() != before  # readers that cache (the tracker) see the change
    assert catalog.get_version("img", "2") is None
    assert [r.version for r in catalog.list_versions("img")] == ["1"]
    assert [r.version for r in catalog.list_images()["img"]] == ["1"]
    latest = catalog.latest("img")
    assert latest is not None and latest.version == "1"
    generation = catalog.generation()
    again = catalog.retire_version("img", "2", "2026-12-01T00:00:00Z")
    assert again is not None and again.retired == "2026-11-26T00:00:00Z"  # unchanged
    assert catalog.generation() == generation  # nothing written, nothing to re-read
    assert catalog.retire_version("img", "9", "2026-11-26T00:00:00Z") is None
    outcome = catalog.add_version(record("2", None))  # the pair is taken for good
    assert not outcome.created and outcome.record.retired is not None


def test_a_catalog_made_before_retiring_existed_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(
        """
        CREATE TABLE schema_version (version INTEGER NOT NULL);
        INSERT INTO schema_version VALUES (1);
        CREATE TABLE versions (
            id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, version TEXT NOT NULL,
            kind TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL, created TEXT NOT NULL,
            envelope BLOB NOT NULL, UNIQUE (name, version));
        """
    )
    kept = record("1", None)
    old.execute(
        "INSERT INTO versions (name, version, kind, sha256, size, created, envelope) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (kept.name, kept.version, kept.kind, kept.sha256, kept.size, kept.created, kept.envelope),
    )
    old.commit()
    old.close()
    catalog = SqliteCatalog(path)
    assert catalog.get_version("img", "1") == kept  # listed, as every version was
    assert catalog.retire_version("img", "1", "2026-11-26T00:00:00Z") is not None
    catalog.close()
    assert SqliteCatalog(path).get_version("img", "1") is None  # and it stays migrated


def test_the_tracker_stops_answering_for_a_retired_version(tmp_path: Path) -> None:
    catalog = SqliteCatalog(tmp_path / "catalog.db")
    v1 = bytes.fromhex("11" * 20)
    catalog.add_version(record("1", ref("11" * 20)))
    now = [0.0]
    index = CatalogTorrentIndex(catalog, refresh_min_seconds=1.0, clock=lambda: now[0])
    tracker = Tracker(index, clock=lambda: now[0], rng=random.Random(1))
    answer = bdecode(tracker.announce(query(v1, n=1), "10.0.0.1"))
    assert isinstance(answer, dict) and b"failure reason" not in answer
    catalog.retire_version("img", "1", "2026-11-26T00:00:00Z")
    now[0] += 1.0  # the index looks at the catalog again at most once a second
    answer = bdecode(tracker.announce(query(v1, n=1), "10.0.0.1"))
    assert isinstance(answer, dict) and b"failure reason" in answer


def test_retire_over_the_cli_and_the_admin_api(
    distributor: RunningDistributor, tmp_path: Path
) -> None:
    image = tmp_path / "deb.img"
    for version, seed in (("1.0", 1), ("2.0", 2)):
        make_image(image, 1 << 16, seed=seed)
        publish(distributor, "deb", version, image)
    data = ("--data", str(distributor.data_dir))
    done = run_cli("retire", *data, "--json", "deb", "2.0")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["retired"]
    url = distributor.url
    assert httpx.get(url + content_paths.manifest_path("deb", "2.0")).status_code == 404
    latest = httpx.get(url + content_paths.latest_manifest_path("deb"))
    assert latest.status_code == 200 and json.loads(latest.content)["signed"]["version"] == "1.0"
    assert run_cli("retire", *data, "deb", "2.0").returncode == 0  # again: nothing changes
    assert run_cli("retire", *data, "deb", "9.9").returncode == 5  # never published
    republish = run_cli("publish", *data, "--public-url", url, "deb", "2.0", str(image))
    assert republish.returncode == 3 and "retired" in republish.stderr
    upload = httpx.put(
        url + content_paths.version_path("deb", "2.0"), content=b"x", headers=distributor.auth
    )
    assert upload.status_code == 409 and upload.json()["error"] == "version_retired"
    report = {"name": "deb", "version": "2.0", "method": "http", "outcome": "ok"}
    reported = httpx.post(url + content_paths.fetch_report_path(), json=report, timeout=10)
    assert reported.status_code == 202  # a host that was mid-download still reports

    version = url + content_paths.version_path("deb", "1.0")
    assert httpx.delete(version).status_code == 401  # an admin write needs the token
    retired = httpx.delete(version, headers=distributor.auth)
    assert retired.status_code == 200 and retired.json()["version"] == "1.0"
    assert httpx.get(url + content_paths.manifest_path("deb", "1.0")).status_code == 404
    missing = httpx.delete(url + content_paths.version_path("deb", "7"), headers=distributor.auth)
    assert missing.status_code == 404
    allowed = httpx.post(version).headers["allow"]
    assert allowed == "DELETE, PUT"


def test_retire_on_a_remote_server_with_exit_codes(
    distributor: RunningDistributor, tmp_path: Path
) -> None:
    image = tmp_path / "deb.img"
    make_image(image, 1 << 16, seed=3)
    publish(distributor, "deb", "3.0", image)
    server = ("--server", distributor.url)
    wrong = run_cli("retire", *server, "--token", "not-the-token", "deb", "3.0")
    assert wrong.returncode == 2
    assert "failed (HTTP 401, unauthorized)" in wrong.stderr
    both = run_cli("retire", *server, "--data", str(distributor.data_dir), "deb", "3.0")
    assert both.returncode == 2 and "not both" in both.stderr
    local = run_cli("retire", "--data", str(distributor.data_dir), "--token", "t", "deb", "3.0")
    assert local.returncode == 2 and "--token goes with --server" in local.stderr
    elsewhere = ("--server", distributor.url + "/not-the-api", "--token", distributor.token)
    wrong_url = run_cli("retire", *elsewhere, "deb", "3.0")
    assert wrong_url.returncode == 2 and "HTTP 404, not_found" in wrong_url.stderr
    manifest = distributor.url + content_paths.manifest_path("deb", "3.0")
    assert httpx.get(manifest).status_code == 200  # refused requests changed nothing

    token = ("--token", distributor.token)
    done = run_cli("retire", *server, *token, "--json", "deb", "3.0")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert (answer["name"], answer["version"]) == ("deb", "3.0") and answer["retired"]
    assert httpx.get(manifest).status_code == 404
    missing = run_cli("retire", *server, *token, "deb", "9.9")
    assert missing.returncode == 5 and "HTTP 404" in missing.stderr
    down = run_cli("retire", "--server", "http://127.0.0.1:9", *token, "deb", "3.0")
    assert down.returncode == 4 and "failed (no answer)" in down.stderr


def test_an_answer_that_is_not_the_servers_is_a_clear_failure() -> None:
    request = httpx.Request("DELETE", "http://proxy.example/v1/images/deb/versions/3.0")
    for body in (b"<html>logged out</html>", b"[1, 2]", b'{"name": "deb"}'):
        answer = httpx.Response(200, content=body, request=request)
        with pytest.raises(AdminRequestFailed, match="HTTP 200, unknown"):
            answer_fields("DELETE", answer, "name", "version", "sha256", "retired")
