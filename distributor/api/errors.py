"""Translation of errors into HTTP answers: every error response is a JSON `ErrorBody`.

The table `STATUS_BY_ERROR` is the whole mapping; `code` comes from the error class (stable,
documented in the error classes). Not responsible for raising anything.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
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
)
from image_format.catalog_schema import ErrorBody
from image_format.errors import InvalidDigest, InvalidName

log = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[Exception], int] = {
    ImageNotFound: 404,
    VersionNotFound: 404,
    BlobNotFound: 404,
    VersionConflict: 409,
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


async def _http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    return error_response(exc.status_code, code, str(exc.detail))


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
