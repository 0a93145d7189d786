"""`distributor retire`: stop listing and serving a version, in a data directory's catalog or
on a remote server through its admin API (`DELETE /v1/images/NAME/versions/VERSION`).

The local form works while a server runs on the same data directory (SQLite WAL): the server
sees it at once. Error contract: `VersionNotFound` and the catalog's errors (local);
`AdminRequestFailed` (remote: 404 for an unknown version, 401 for a wrong token).
"""

from __future__ import annotations

import json
from typing import TextIO

from distributor.catalog import open_catalog
from distributor.commands.admin_http import admin_request, answer_fields
from distributor.retiring import retire_version
from distributor.settings import DistributorSettings
from image_format.content_paths import version_path


def retire(
    settings: DistributorSettings, name: str, version: str, *, as_json: bool, out: TextIO
) -> int:
    catalog = open_catalog(settings.effective_catalog_url)
    try:
        record = retire_version(catalog, name, version)
    finally:
        catalog.close()
    _report(record.name, record.version, record.sha256, record.retired, as_json=as_json, out=out)
    return 0


def retire_remote(
    server: str, token: str, name: str, version: str, *, as_json: bool, out: TextIO
) -> int:
    url = server.rstrip("/") + version_path(name, version)
    answer = admin_request("DELETE", url, token)
    found = answer_fields("DELETE", answer, "name", "version", "sha256", "retired")
    _report(*found, as_json=as_json, out=out)
    return 0


def _report(
    name: str, version: str, sha256: str, retired: str | None, *, as_json: bool, out: TextIO
) -> None:
    if as_json:
        summary = {"name": name, "version": version, "sha256": sha256, "retired": retired}
        print(json.dumps(summary), file=out)
    else:
        print(f"retired: {name}@{version} (since {retired})", file=out)
