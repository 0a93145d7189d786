"""Signed manifests, served as the exact envelope bytes the catalog stored.

Caching: `latest` moves when a version is published, so it is `no-cache` (caches revalidate every
time). A version's manifest is never replaced by publishing, but it is not content-addressed
either: re-signing (key rotation, refreshed expiry, torrent or delta references added later) may
replace its envelope. So it gets a short `max-age=60`: enough for a proxy to absorb a burst of
hosts starting the same task, short enough that a re-signed manifest spreads within a minute.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from distributor.api import paths
from distributor.api.deps import CatalogDep, ImageName, ImageVersion
from distributor.errors import ImageNotFound, VersionNotFound
from image_format.content_paths import MANIFEST_MEDIA_TYPE

router = APIRouter(tags=["manifests"])

LATEST_CACHE_CONTROL = "no-cache"
VERSION_CACHE_CONTROL = "public, max-age=60"
_MANIFEST_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {MANIFEST_MEDIA_TYPE: {}}, "description": "the signed manifest envelope"}
}


@router.get(paths.LATEST_MANIFEST, response_class=Response, responses=_MANIFEST_RESPONSE)
def latest_manifest(name: ImageName, catalog: CatalogDep) -> Response:
    record = catalog.latest(name)
    if record is None:
        raise ImageNotFound(name)
    return Response(
        record.envelope,
        media_type=MANIFEST_MEDIA_TYPE,
        headers={"Cache-Control": LATEST_CACHE_CONTROL},
    )


@router.get(paths.MANIFEST, response_class=Response, responses=_MANIFEST_RESPONSE)
def version_manifest(name: ImageName, version: ImageVersion, catalog: CatalogDep) -> Response:
    record = catalog.get_version(name, version)
    if record is None:
        raise VersionNotFound(name, version)
    return Response(
        record.envelope,
        media_type=MANIFEST_MEDIA_TYPE,
        headers={"Cache-Control": VERSION_CACHE_CONTROL},
    )
