"""The image manifest: what a published version is, as the project signs it.

A manifest is plain JSON. It is signed over its canonical bytes (sorted keys, no white space,
UTF-8) and travels inside an envelope, see `image_format.signing`. Fields that later parts of the
pipeline fill (torrent, chunk index, deltas) are optional so older manifests stay valid. Unknown
fields are ignored when reading, so newer servers do not break older fetchers (the signature covers
the raw document, unknown fields included).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from image_format.digest import validate_digest
from image_format.name_types import ImageName, ImageVersion
from image_format.timestamps import parse_utc_timestamp

MANIFEST_SCHEMA_VERSION = 1
ContentKind = Literal["image", "data"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class TorrentRef(_Model):
    """The version's torrent file, served at a content-addressed URL."""

    sha256: str
    size: int = Field(ge=0)
    info_hash_v1: str | None = None
    info_hash_v2: str | None = None


class ChunkIndexRef(_Model):
    """The version's chunk index, served at a content-addressed URL.

    `data_chunk_bytes`: the stored (zstd) size of its distinct non-zero chunks, about what a host
    with no donors moves to rebuild the image from chunks (zero runs cost nothing), so a fetcher
    can weigh chunks against the whole image without downloading the index. None: not known (a
    format-1 index without pack locations, or an older publisher)."""

    sha256: str
    size: int = Field(ge=0)
    chunk_count: int = Field(ge=0)
    data_chunk_bytes: int | None = Field(None, ge=0)


class DeltaRef(_Model):
    """A patch that turns the `from_version` image (digest `from_sha256`) into this one.

    The patch itself is a blob (`/v1/blobs/sha256/<sha256>`); `torrent` lets the swarm carry it.
    """

    from_version: str
    from_sha256: str
    sha256: str
    size: int = Field(ge=0)
    torrent: TorrentRef | None = None


class Manifest(_Model):
    """One published version of an image or data file.

    Not responsible for trust: a `Manifest` object says nothing about who made it. Only
    `image_format.signing.verify_signed_manifest` turns bytes into a trusted manifest.
    """

    schema_version: int = MANIFEST_SCHEMA_VERSION
    kind: ContentKind = "image"
    name: ImageName
    version: ImageVersion
    size: int = Field(ge=0)
    sha256: str
    created: str
    expires: str | None = None
    torrent: TorrentRef | None = None
    chunk_index: ChunkIndexRef | None = None
    deltas: tuple[DeltaRef, ...] = ()

    @field_validator("sha256")
    @classmethod
    def _valid_digest(cls, value: str) -> str:
        return validate_digest(value)

    @field_validator("created", "expires")
    @classmethod
    def _valid_time(cls, value: str | None) -> str | None:
        if value is not None:
            parse_utc_timestamp(value)
        return value

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def to_document(self) -> dict[str, Any]:
        """The JSON document to sign; optional fields left unset are omitted."""
        return self.model_dump(mode="json", exclude_none=True)
