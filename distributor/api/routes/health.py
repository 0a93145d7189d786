"""Liveness (`/health`: the process answers) and readiness (`/readiness`: it can do its job).

Ready means: the catalog answers a query, the data directory accepts a new file, and the signing
key is loaded. Otherwise 503 with an `ErrorBody` listing every failed check.
"""

from __future__ import annotations

import tempfile

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from distributor.api import paths
from distributor.api.deps import ServicesDep
from distributor.api.errors import error_response
from distributor.errors import CatalogError

router = APIRouter(tags=["health"])


@router.get(paths.HEALTH)
def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get(paths.READINESS, response_model=None)
def readiness(services: ServicesDep) -> JSONResponse | dict[str, str]:
    problems: list[str] = []
    try:
        services.catalog.check()
    except CatalogError as exc:
        problems.append(str(exc))
    data_dir = services.settings.data_dir
    try:
        with tempfile.TemporaryFile(dir=data_dir, prefix=".readiness-"):
            pass
    except OSError as exc:
        problems.append(f"data directory {data_dir} is not writable: {exc}")
    if services.key_problem is not None:
        problems.append(services.key_problem)
    if problems:
        return error_response(503, "not_ready", "; ".join(problems))
    return {"status": "ready"}
