"""The application factory: settings in, a FastAPI app out. The routers, in order, are the API.

Not responsible for reading the environment (the CLI builds the settings) nor for running a
server (uvicorn, in `distributor.commands.serve`). Error contract: `create_app` raises
`CatalogError` when the catalog cannot be opened.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from distributor.api.errors import install_error_handlers
from distributor.api.routes import (
    blobs,
    chunks,
    fallback,
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
        yield
        services.close()

    app = FastAPI(
        title="distributor",
        summary="Signed, verified distribution of VM images and task data",
        lifespan=lifespan,
    )
    app.state.services = services
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(images.router)
    app.include_router(manifests.router)
    app.include_router(upload.router)
    app.include_router(blobs.router)
    app.include_router(torrents.router)
    app.include_router(chunks.router)
    app.include_router(packs.router)
    app.include_router(stats.router)
    app.include_router(tracker.router)
    app.include_router(swarm_health.router)
    app.include_router(fallback.router)
    return app
