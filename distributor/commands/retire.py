"""`distributor retire`: stop listing and serving a version of a data directory's catalog.

Works while a server runs on the same data directory (SQLite WAL): the server sees it at once.
"""

from __future__ import annotations

import json
from typing import TextIO

from distributor.catalog import open_catalog
from distributor.retiring import retire_version
from distributor.settings import DistributorSettings


def retire(
    settings: DistributorSettings, name: str, version: str, *, as_json: bool, out: TextIO
) -> int:
    catalog = open_catalog(settings.effective_catalog_url)
    try:
        record = retire_version(catalog, name, version)
    finally:
        catalog.close()
    if as_json:
        summary = {"name": record.name, "version": record.version, "sha256": record.sha256}
        print(json.dumps({**summary, "retired": record.retired}), file=out)
    else:
        print(f"retired: {record.name}@{record.version} (since {record.retired})", file=out)
    return 0
