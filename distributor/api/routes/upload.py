"""Admin publishing over HTTP: `PUT` a version's content, streamed into the blob store; `DELETE`
retires a version (`distributor.retiring`: 200 with the record, 404 when never published).

201 and the signed envelope when the version is new, 200 when the same content was already
published as the same kind, 409 on a conflict (`version_conflict`: other content;
`kind_conflict`: the same content as another kind; `version_retired`: a retired version, refused
before the body is read), 401 without the admin token, 413 beyond
`upload_max_bytes`, 400 when `X-Content-Sha256` does not match (nothing is recorded and the staged
file is removed).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from distributor.api import paths
from distributor.api.deps import (
    AdminDep,
    BlobStoreDep,
    CatalogDep,
    ImageName,
    ImageVersion,
    PublisherDep,
    SettingsDep,
)
from distributor.errors import UploadTooLarge, VersionRetired
from distributor.retiring import retire_version
from distributor.storage.async_upload import stage_stream
from image_format.content_paths import MANIFEST_MEDIA_TYPE
from image_format.digest import validate_digest
from image_format.manifest import ContentKind

router = APIRouter(tags=["admin"])


@router.put(
    paths.VERSION,
    status_code=201,
    response_class=Response,
    responses={200: {"description": "already published with the same content"}},
)
async def upload_version(
    name: ImageName,
    version: ImageVersion,
    request: Request,
    _admin: AdminDep,
    settings: SettingsDep,
    store: BlobStoreDep,
    publisher: PublisherDep,
    catalog: CatalogDep,
    kind: Annotated[ContentKind, Query()] = "image",
    content_length: Annotated[int | None, Header()] = None,
    x_content_sha256: Annotated[str | None, Header()] = None,
) -> Response:
    expected = validate_digest(x_content_sha256.lower()) if x_content_sha256 else None
    known = await run_in_threadpool(catalog.get_version, name, version, retired_too=True)
    if known is not None and known.retired is not None:
        raise VersionRetired(name, version, known.retired)  # before reading the whole body
    limit = settings.upload_max_bytes
    if content_length is not None and content_length > limit:
        raise UploadTooLarge(limit)
    staged = await stage_stream(store, request.stream(), max_bytes=limit)
    result = await run_in_threadpool(
        publisher.publish_staged, staged, name, version, kind, expected_sha256=expected
    )
    return Response(
        result.manifest_bytes,
        status_code=201 if result.created else 200,
        media_type=MANIFEST_MEDIA_TYPE,
    )


@router.delete(paths.VERSION)
async def retire(
    name: ImageName, version: ImageVersion, _admin: AdminDep, catalog: CatalogDep
) -> dict[str, str | None]:
    record = await run_in_threadpool(retire_version, catalog, name, version)
    return {
        "name": record.name,
        "version": record.version,
        "sha256": record.sha256,
        "retired": record.retired,
    }
