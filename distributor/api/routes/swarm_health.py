"""Swarm health over HTTP: seeder and fetch reports in; JSON, the dashboard and /metrics out.

- `POST seeder_report_path(id)` (admin token, checked before the body is read): a `SeederReport`;
  the path id must match the body.
- `POST fetch_report_path()` (no token): a `FetchReport` for a version the catalog knows.
- `GET swarm_health_path()`: `SwarmHealth` JSON; `GET /dashboard`: HTML; `GET /metrics`: Prometheus.

Bodies are size-bounded (413 beyond), invalid ones are 400, unknown versions 404; never a 500.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import ValidationError

from distributor.api.deps import AdminDep, CatalogDep, OriginStatsDep, SettingsDep, SwarmDep
from distributor.api.errors import error_response
from distributor.errors import UploadTooLarge, VersionNotFound
from distributor.health.dashboard import render_dashboard
from distributor.health.metrics import CONTENT_TYPE, metrics_registry, render_metrics
from distributor.health.models import SwarmHealth
from distributor.health.summary import endpoint_text, swarm_health
from distributor.settings import DistributorSettings
from image_format.content_paths import fetch_report_path, seeder_report_path, swarm_health_path
from image_format.swarm_reports import FetchReport, SeederReport

router = APIRouter(tags=["swarm health"])
SEEDER_REPORT_MAX_BYTES = 4 << 20
DASHBOARD = "/dashboard"
METRICS = "/metrics"
SEEDER_REPORT = seeder_report_path("SEEDERID").replace("SEEDERID", "{seeder_id}")


def _bounded_body(
    limit: Callable[[DistributorSettings], int],
) -> Callable[[Request, DistributorSettings], Awaitable[bytes]]:
    async def read(request: Request, settings: SettingsDep) -> bytes:
        most = limit(settings)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > most:
            raise UploadTooLarge(most)
        chunks, total = [], 0
        async for chunk in request.stream():
            total += len(chunk)
            if total > most:
                raise UploadTooLarge(most)
            chunks.append(chunk)
        return b"".join(chunks)

    return read


_read_seeder_body = _bounded_body(lambda s: SEEDER_REPORT_MAX_BYTES)


async def _admin_seeder_body(request: Request, settings: SettingsDep, _: AdminDep) -> bytes:
    """The seeder report's body, read only after the admin token checked out: without it the
    request is answered 401 (`NotAuthorized`) before a byte of the body is read."""
    return await _read_seeder_body(request, settings)


FetchBody = Annotated[bytes, Depends(_bounded_body(lambda s: s.fetch_report_max_bytes))]
SeederBody = Annotated[bytes, Depends(_admin_seeder_body)]


def _invalid(exc: ValidationError) -> JSONResponse:
    detail = "; ".join(
        f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
    )
    return error_response(400, "invalid_report", detail or "invalid report")


@router.post(SEEDER_REPORT, response_model=None)
def seeder_report(
    seeder_id: str, _: AdminDep, body: SeederBody, request: Request, swarm: SwarmDep
) -> JSONResponse | dict[str, object]:
    try:
        report = SeederReport.model_validate_json(body)
    except ValidationError as exc:
        return _invalid(exc)
    if report.seeder_id != seeder_id:
        return error_response(400, "invalid_report", "seeder_id differs from the path's")
    seen = swarm.seeders.record(report, request.client.host if request.client else "")
    return {
        "status": "recorded",
        "endpoint": endpoint_text(seen.endpoint),
        "stale_after_seconds": swarm.seeders.stale_after_seconds,
        # New when the distributor restarts: its tracker then knows no peer (`Tracker`).
        "tracker_instance": swarm.tracker.instance_id,
    }


@router.post(fetch_report_path(), status_code=202, response_model=None)
def fetch_report(
    body: FetchBody, catalog: CatalogDep, swarm: SwarmDep
) -> JSONResponse | dict[str, str]:
    try:
        report = FetchReport.model_validate_json(body)
    except ValidationError as exc:
        return _invalid(exc)
    if catalog.get_version(report.name, report.version, retired_too=True) is None:
        # A retired version's hosts still finish and report: only never-published ones are 404.
        raise VersionNotFound(report.name, report.version)
    swarm.fetch_reports.record(report)
    return {"status": "recorded"}


@router.get(swarm_health_path())
def health_json(catalog: CatalogDep, swarm: SwarmDep, origin: OriginStatsDep) -> SwarmHealth:
    return swarm_health(catalog, swarm, origin)


@router.get(DASHBOARD, response_class=HTMLResponse)
def dashboard(catalog: CatalogDep, swarm: SwarmDep, origin: OriginStatsDep) -> HTMLResponse:
    page = render_dashboard(swarm_health(catalog, swarm, origin))
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


@router.get(METRICS)
def metrics(catalog: CatalogDep, swarm: SwarmDep, origin: OriginStatsDep) -> Response:
    registry = metrics_registry(lambda: swarm_health(catalog, swarm, origin), origin)
    return Response(render_metrics(registry), media_type=CONTENT_TYPE)
