"""JSON shapes of the catalog listings the distributor serves and clients read."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from image_format.manifest import ContentKind


class VersionSummary(BaseModel):
    """One published version, as listed."""

    model_config = ConfigDict(extra="ignore")

    version: str
    kind: ContentKind
    sha256: str
    size: int
    created: str


class ImageSummary(BaseModel):
    """An image and its versions, oldest first; `latest` is the most recently published."""

    model_config = ConfigDict(extra="ignore")

    name: str
    latest: str
    versions: list[VersionSummary]


class ImageList(BaseModel):
    """Every image the distributor serves."""

    model_config = ConfigDict(extra="ignore")

    images: list[ImageSummary]


class ErrorBody(BaseModel):
    """Body of every error response: a stable code and a human message."""

    error: str
    detail: str
