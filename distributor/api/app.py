"""The application factory: settings in, a FastAPI app out. The routers, in order, are the API.

Not responsible for reading the environment (the CLI builds the settings) nor for running a
server (uvicorn, in `distributor.commands.serve`). Error contract: `create_app` raises
`CatalogError` when the catalog cannot be opened.

At start-up (in each worker process) staging files whose writer died are removed
(`Services.sweep_staging`). A name with an encoded separator is 400 before routing
(`EncodedSeparatorGuard`). HEAD is answered wherever GET is (`HeadAsGet`); requests no route
serves are answered by the error handlers (404, or 405 with `Allow`, or 400 for a bad name under
`/v1/images/`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI

from distributor.api.encoded_paths import EncodedSeparatorGuard
from distributor.api.errors import install_error_handlers, route_methods
from distributor.api.head import HeadAsGet
from distributor.api.routes import (
    blobs,
    chunks,
    health,
    images,
    manifests,
    packs,
    stats,
    swarm_health,
    torrents,
    tracker,
    upload,
)
from distributor.api.services import Services, build_services
from distributor.settings import DistributorSettings


def create_app(settings: DistributorSettings, services: Services | None = None) -> FastAPI:
    services = services or build_services(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await to_thread.run_sync(services.sweep_staging)
        yield
        services.close()

    app = FastAPI(
        title="distributor",
        summary="Signed, verified distribution of VM images and task data",
        lifespan=lifespan,
    )
    app.state.services = services
    install_error_handlers(app)
    routers = [
        health.router,
        images.router,
        manifests.router,
        upload.router,
        blobs.router,
        torrents.router,
        chunks.router,
        packs.router,
        stats.router,
        tracker.router,
        swarm_health.router,
    ]
    for router in routers:
        app.include_router(router)
    app.state.route_methods = route_methods(routers)
    app.add_middleware(HeadAsGet, routes=app.router.routes)
    app.add_middleware(EncodedSeparatorGuard)
    return app
