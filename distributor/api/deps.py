"""Typed dependencies the routers declare: services, validated path parameters, admin auth.

Not responsible for building the services (`distributor.api.services`) and holds no settings of
its own: everything comes from the app the request belongs to. Error contract: invalid names,
versions and digests raise `InvalidName`/`InvalidDigest` (answered 400); a missing or wrong admin
token raises `NotAuthorized` (401); publishing without a signing key raises `PublishingDisabled`
(503).
"""

from __future__ import annotations

import hmac
from typing import Annotated, cast

from fastapi import Depends, Header, Path, Request

from distributor.api.services import Services
from distributor.catalog import Catalog
from distributor.content.origin_stats import OriginStats
from distributor.errors import NotAuthorized, PublishingDisabled
from distributor.health.state import SwarmState
from distributor.publishing import Publisher
from distributor.settings import DistributorSettings
from distributor.storage.blob_store import LocalBlobStore
from image_format.digest import validate_digest
from image_format.names import validate_name, validate_version


def get_services(request: Request) -> Services:
    return cast(Services, request.app.state.services)


ServicesDep = Annotated[Services, Depends(get_services)]


def get_settings(services: ServicesDep) -> DistributorSettings:
    return services.settings


def get_catalog(services: ServicesDep) -> Catalog:
    return services.catalog


def get_blob_store(services: ServicesDep) -> LocalBlobStore:
    return services.blob_store


def get_origin_stats(services: ServicesDep) -> OriginStats:
    return services.origin_stats


def get_swarm(services: ServicesDep) -> SwarmState:
    return services.swarm


def get_publisher(services: ServicesDep) -> Publisher:
    if services.publisher is None:
        raise PublishingDisabled(f"publishing is disabled: {services.key_problem}")
    return services.publisher


SettingsDep = Annotated[DistributorSettings, Depends(get_settings)]
CatalogDep = Annotated[Catalog, Depends(get_catalog)]
BlobStoreDep = Annotated[LocalBlobStore, Depends(get_blob_store)]
OriginStatsDep = Annotated[OriginStats, Depends(get_origin_stats)]
PublisherDep = Annotated[Publisher, Depends(get_publisher)]
SwarmDep = Annotated[SwarmState, Depends(get_swarm)]


def valid_name(name: Annotated[str, Path(description="image name")]) -> str:
    return validate_name(name)


def valid_version(version: Annotated[str, Path(description="version")]) -> str:
    return validate_version(version)


def valid_digest(digest: Annotated[str, Path(description="sha256, 64 lowercase hex")]) -> str:
    return validate_digest(digest)


ImageName = Annotated[str, Depends(valid_name)]
ImageVersion = Annotated[str, Depends(valid_version)]
BlobDigest = Annotated[str, Depends(valid_digest)]


def require_admin(
    settings: SettingsDep,
    authorization: Annotated[str | None, Header()] = None,
) -> None:
    """Constant-time check of `Authorization: Bearer <token>`; an empty token never matches."""
    expected = settings.admin_token.get_secret_value().encode()
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise NotAuthorized("an admin bearer token is required")
    if not expected or not hmac.compare_digest(given.strip().encode(), expected):
        raise NotAuthorized("the admin token is wrong")


AdminDep = Annotated[None, Depends(require_admin)]
