"""JSON bodies that seeders and hosts POST to the distributor's swarm health.

- `SeederReport` goes to `content_paths.seeder_report_path(seeder_id)` (admin bearer token), every
  few seconds from each seeder daemon. Its numbers are the seeder's cumulative totals since it
  started: the distributor keeps the latest report per seeder, it never adds reports up.
- `FetchReport` goes to `content_paths.fetch_report_path()` (no token), once per `client-fetch get`.
  The distributor adds these up per image version.

Both are bounded (field ranges, list lengths) so a hostile body cannot make the server hold much.
Unknown fields are ignored (newer clients, older servers). Not responsible for sending anything.
Error contract: pydantic's `ValidationError` for any body that does not fit.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from image_format.name_types import ImageName, ImageVersion

MAX_REPORTED_BYTES = 1 << 60
MAX_REPORTED_COUNT = 1 << 40
MAX_SEEDER_TORRENTS = 10_000
FetchMethod = Literal["cache", "http", "swarm", "delta", "chunks"]
FetchOutcome = Literal["ok", "failed"]

ByteCount = Annotated[int, Field(ge=0, le=MAX_REPORTED_BYTES)]
Count = Annotated[int, Field(ge=0, le=MAX_REPORTED_COUNT)]


class _Report(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


def _hex(value: str | None, length: int, what: str) -> str | None:
    if value is None:
        return None
    text = value.lower()
    if len(text) != length or any(c not in "0123456789abcdef" for c in text):
        raise ValueError(f"{what} must be {length} hex characters")
    return text


class SeederTorrentStats(_Report):
    """One torrent a seeder holds: which version (its image, or with `patch_from` its patch from
    that version), its hashes, and cumulative counters."""

    name: ImageName
    version: ImageVersion
    patch_from: ImageVersion | None = None
    info_hash_v1: str | None = None
    info_hash_v2: str | None = None
    uploaded_bytes: ByteCount = 0
    num_peers: Count = 0
    hash_failures: Count = 0
    state: str = Field(default="seeding", max_length=32)

    @field_validator("info_hash_v1")
    @classmethod
    def _v1(cls, value: str | None) -> str | None:
        return _hex(value, 40, "info_hash_v1")

    @field_validator("info_hash_v2")
    @classmethod
    def _v2(cls, value: str | None) -> str | None:
        return _hex(value, 64, "info_hash_v2")


def parse_listen_address(text: str) -> tuple[str, int]:
    """`"HOST:PORT"` or `"[V6]:PORT"` → (host, port); raises ValueError. HOST is an IP address."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit() or not port_text.isascii():
        raise ValueError(f"listen address {text!r} is not HOST:PORT")
    port = int(port_text)
    if not 0 < port < 65536:
        raise ValueError(f"listen address {text!r} has a port outside 1-65535")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return str(ipaddress.ip_address(host)), port


class SeederReport(_Report):
    """A seeder's state: who it is, where peers reach it, and each torrent it holds.

    `listen_address` is `"HOST:PORT"` (`"[V6]:PORT"`) as peers see it. A host of `0.0.0.0`/`::`
    means "the address this report comes from".
    """

    seeder_id: ImageName
    listen_address: str
    torrents: list[SeederTorrentStats] = Field(default_factory=list, max_length=MAX_SEEDER_TORRENTS)

    @field_validator("listen_address")
    @classmethod
    def _listen(cls, value: str) -> str:
        parse_listen_address(value)
        return value

    @property
    def listen_endpoint(self) -> tuple[str, int]:
        return parse_listen_address(self.listen_address)


class FetchReport(_Report):
    """What one `client-fetch get` did: which method produced the image, and from where."""

    name: ImageName
    version: ImageVersion
    method: FetchMethod
    outcome: FetchOutcome
    exit_code: int = Field(default=0, ge=0, le=255)
    bytes_from_peers: ByteCount = 0
    bytes_from_origin: ByteCount = 0
    bytes_from_mirrors: ByteCount = 0
    hash_failures: Count = 0
    seconds: float = Field(default=0.0, ge=0.0, le=1e7)
