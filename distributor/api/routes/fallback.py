"""Requests under `/v1/images/` that match no route: a name with an encoded `/` is a bad name.

`/v1/images/a%2Fb` arrives decoded as `/v1/images/a/b`; without this router it would be a plain
404. With it, a path whose raw form holds `%2F` (or a `..` segment) is answered 400
`invalid_name`, anything else 404 `not_found`. Nothing here touches the file system.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from distributor.api.errors import error_response
from image_format.content_paths import API_PREFIX

router = APIRouter(include_in_schema=False)


@router.api_route(
    f"{API_PREFIX}/images/{{rest:path}}", methods=["GET", "HEAD", "PUT", "POST", "DELETE"]
)
def unmatched_image_path(rest: str, request: Request) -> object:
    raw = request.scope.get("raw_path", b"").decode("latin-1").lower()
    if "%2f" in raw or "%5c" in raw or ".." in rest.split("/"):
        return error_response(400, "invalid_name", f"invalid image path {rest!r}")
    return error_response(404, "not_found", f"no such resource: {request.url.path}")
