"""Listing what is published: every image, or one image with its versions."""

from __future__ import annotations

from fastapi import APIRouter

from distributor.api import paths
from distributor.api.deps import CatalogDep, ImageName
from distributor.catalog import VersionRecord
from distributor.errors import ImageNotFound
from image_format.catalog_schema import ImageList, ImageSummary, VersionSummary

router = APIRouter(tags=["images"])


def _summary(name: str, records: list[VersionRecord]) -> ImageSummary:
    return ImageSummary(
        name=name,
        latest=records[-1].version,
        versions=[
            VersionSummary(
                version=r.version, kind=r.kind, sha256=r.sha256, size=r.size, created=r.created
            )
            for r in records
        ],
    )


@router.get(paths.IMAGES, response_model=ImageList)
def list_images(catalog: CatalogDep) -> ImageList:
    images = catalog.list_images()
    return ImageList(images=[_summary(name, records) for name, records in images.items()])


@router.get(paths.IMAGE, response_model=ImageSummary)
def get_image(name: ImageName, catalog: CatalogDep) -> ImageSummary:
    records = catalog.list_versions(name)
    if not records:
        raise ImageNotFound(name)
    return _summary(name, records)
