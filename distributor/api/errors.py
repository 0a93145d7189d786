"""Translation of errors into HTTP answers: every error response is a JSON `ErrorBody`.

The table `STATUS_BY_ERROR` is the whole mapping; `code` comes from the error class (stable,
documented in the error classes). Not responsible for raising anything.

Requests no route serves: an unknown path is 404 `not_found`; a known path with another method is
405 `method_not_allowed` with an `Allow` header (HEAD included wherever GET is, see
`distributor.api.head`). Under `/v1/images/`, a path whose raw form holds an encoded `/` or `\\`
(`/v1/images/a%2Fb` arrives decoded as `/v1/images/a/b`) or a `..` segment is a bad name instead:
400 `invalid_name`. Nothing here touches the file system.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from distributor.errors import (
    BlobNotFound,
    CatalogError,
    ContentDigestMismatch,
    DistributorError,
    ImageNotFound,
    NotAuthorized,
    PublishingDisabled,
    StorageError,
    UploadTooLarge,
    VersionConflict,
    VersionNotFound,
    VersionRetired,
)
from image_format.catalog_schema import ErrorBody
from image_format.content_paths import API_PREFIX
from image_format.errors import InvalidDigest, InvalidName

log = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[Exception], int] = {
    ImageNotFound: 404,
    VersionNotFound: 404,
    BlobNotFound: 404,
    VersionConflict: 409,
    VersionRetired: 409,
    ContentDigestMismatch: 400,
    UploadTooLarge: 413,
    NotAuthorized: 401,
    PublishingDisabled: 503,
    CatalogError: 503,
    StorageError: 507,
}
_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}


def error_response(status: int, code: str, detail: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    body = ErrorBody(error=code, detail=detail).model_dump()
    return JSONResponse(body, status_code=status, headers=headers)


def _status_of(exc: Exception) -> int:
    for kind in type(exc).__mro__:
        if kind in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[kind]
    return 500


async def _distributor_error(request: Request, exc: Exception) -> JSONResponse:
    status = _status_of(exc)
    if status >= 500:
        log.error("%s %s: %s", request.method, request.url.path, exc)
    code = exc.code if isinstance(exc, DistributorError) else "internal"
    return error_response(status, code, str(exc))


async def _invalid_name(request: Request, exc: Exception) -> JSONResponse:
    code = "invalid_digest" if isinstance(exc, InvalidDigest) else "invalid_name"
    return error_response(400, code, str(exc))


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = "; ".join(
        f"{'.'.join(str(p) for p in err.get('loc', ()))}: {err.get('msg', '')}"
        for err in exc.errors()
    )
    return error_response(400, "invalid_request", details or "invalid request")


def bad_image_path(request: Request) -> JSONResponse | None:
    """400 for a `/v1/images/...` path that smuggles a separator or `..` in a name, else None."""
    path: str = request.scope.get("path", "")
    prefix = f"{API_PREFIX}/images/"
    if not path.startswith(prefix):
        return None
    rest = path[len(prefix) :]
    raw = request.scope.get("raw_path", b"").decode("latin-1").lower()
    if "%2f" in raw or "%5c" in raw or ".." in rest.split("/"):
        return error_response(400, "invalid_name", f"invalid image path {rest!r}")
    return None


RouteMethods = list[tuple[re.Pattern[str], frozenset[str]]]
"""Each route's path pattern and methods (`route_methods`), kept in `app.state.route_methods`."""


def route_methods(routers: Sequence[APIRouter]) -> RouteMethods:
    """The path pattern and methods of every route of `routers`."""
    return [
        (route.path_regex, frozenset(route.methods or ()))
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
    ]


def _allowed(request: Request, headers: Mapping[str, str] | None) -> dict[str, str]:
    """The `Allow` header of a 405: the methods of every route at the path (Starlette names only
    the first route's, and a path may have several: PUT and DELETE of a version), with HEAD
    wherever GET is (the HEAD middleware serves it)."""
    methods = {m.strip() for m in (headers or {}).get("Allow", "").split(",") if m.strip()}
    known: RouteMethods = getattr(request.app.state, "route_methods", [])
    for pattern, allowed in known:
        if pattern.match(request.url.path):
            methods |= allowed
    if "GET" in methods:
        methods.add("HEAD")
    return {"Allow": ", ".join(sorted(methods))}


async def _http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if status in (404, 405):
        bad_name = bad_image_path(request)
        if bad_name is not None:
            return bad_name
    code = _HTTP_CODES.get(status, f"http_{status}")
    if status == 404:
        return error_response(404, code, f"no such resource: {request.url.path}")
    if status == 405:
        allow = _allowed(request, exc.headers)
        answer = error_response(
            405,
            code,
            f"{request.method} is not allowed on {request.url.path}; allowed: {allow['Allow']}",
        )
        answer.headers.update(allow)
        return answer
    answer = error_response(status, code, str(exc.detail))
    answer.headers.update(exc.headers or {})
    return answer


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal", "internal server error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DistributorError, _distributor_error)
    app.add_exception_handler(InvalidName, _invalid_name)
    app.add_exception_handler(InvalidDigest, _invalid_name)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(Exception, _unexpected)
