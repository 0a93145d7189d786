"""Configuration of the distributor, read from `DISTRIBUTOR_*` environment variables and flags.

Not responsible for reading the environment at import time: nothing here builds a settings object;
the CLI (`distributor.commands.serve`) builds one and hands it to `create_app`. Library code takes
the values it needs as arguments and never reads `os.environ`.

Error contract: `check_admin_token` raises `WeakAdminToken`; pydantic raises `ValidationError` for
malformed values.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from distributor.errors import WeakAdminToken
from image_format.chunks import DEFAULT_LEVEL, DEFAULT_PARAMS, ChunkParams
from image_format.delta import DEFAULT_LITERAL_LEVEL

MIN_ADMIN_TOKEN_CHARS = 16
WEAK_ADMIN_TOKENS = frozenset({"changeme", "admin", "token", "secret", "password"})
DEFAULT_UPLOAD_MAX_BYTES = 64 << 30


class DistributorSettings(BaseSettings):
    """Everything the server process needs to know; sizes are in bytes, as the names say."""

    model_config = SettingsConfigDict(env_prefix="DISTRIBUTOR_", extra="ignore")

    data_dir: Path = Path("./distributor-data")
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    forwarded_allow_ips: list[str] = Field(default=["127.0.0.1"])
    """Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (uvicorn's
    `forwarded_allow_ips`; `*`: any). The tracker hands out the address a request came from: behind
    a proxy it trusts not, every peer is the proxy's address."""
    admin_token: SecretStr = SecretStr("")
    dev_mode: bool = False
    public_url: str | None = None
    catalog_url: str | None = None
    mirror_urls: list[str] = Field(default_factory=list)
    upload_max_bytes: int = Field(default=DEFAULT_UPLOAD_MAX_BYTES, ge=0)
    # Tracker (see distributor.tracker.config) and swarm health.
    tracker_interval_seconds: int = Field(default=300, ge=1)
    tracker_min_interval_seconds: int = Field(default=30, ge=1)
    tracker_client_min_announce_seconds: int = Field(default=300, ge=0)
    tracker_peer_grace_seconds: float = Field(default=30.0, ge=0)
    tracker_numwant_default: int = Field(default=50, ge=0)
    tracker_numwant_max: int = Field(default=200, ge=1)
    tracker_max_peers_per_swarm: int = Field(default=100_000, ge=1)
    tracker_max_peers_per_address: int = Field(default=64, ge=1)
    tracker_ip_override_networks: list[str] = Field(default=["127.0.0.0/8", "::1/128"])
    tracker_catalog_refresh_min_seconds: float = Field(default=1.0, ge=0)
    seeder_report_stale_seconds: float = Field(default=60.0, gt=0)
    fetch_report_max_bytes: int = Field(default=16_384, ge=256)
    # Torrents made at publish (see distributor.torrents).
    torrent_enabled: bool = True
    torrent_format: Literal["hybrid", "v1"] = "hybrid"
    torrent_private: bool = True
    # Delta patches made at publish (see distributor.deltas): from the previous K versions.
    delta_from_versions: int = Field(default=2, ge=0)
    delta_zstd_level: int = Field(default=12, ge=1, le=22)
    delta_literal_zstd_level: int = Field(default=DEFAULT_LITERAL_LEVEL, ge=1, le=22)
    # Content-addressed chunks made at publish (see distributor.chunks, docs/chunking.md).
    chunks_enabled: bool = True
    chunk_min_bytes: int = DEFAULT_PARAMS.min_size
    chunk_avg_bytes: int = DEFAULT_PARAMS.avg_size
    chunk_max_bytes: int = DEFAULT_PARAMS.max_size
    chunk_zstd_level: int = Field(default=DEFAULT_LEVEL, ge=1, le=22)
    chunk_pack_bytes: int = Field(default=32 << 20, ge=1 << 20, le=1 << 31)

    @field_validator("tracker_ip_override_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            ipaddress.ip_network(network, strict=False)  # ValueError → ValidationError
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxies(cls, value: list[str]) -> list[str]:
        for proxy in value:
            if proxy != "*":
                ipaddress.ip_network(proxy, strict=False)  # ValueError → ValidationError
        return value

    @model_validator(mode="after")
    def _chunk_sizes(self) -> DistributorSettings:
        self.chunk_params  # noqa: B018 - ChunkParamsError (a ValueError) → ValidationError
        return self

    @property
    def chunk_params(self) -> ChunkParams:
        """The chunker's parameters; zero runs of at least `chunk_min_bytes` become holes."""
        return ChunkParams(
            self.chunk_min_bytes, self.chunk_avg_bytes, self.chunk_max_bytes, self.chunk_min_bytes
        )

    @property
    def effective_public_url(self) -> str:
        """The base URL hosts use to reach this server, without a trailing slash."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def effective_catalog_url(self) -> str:
        return self.catalog_url or f"sqlite:///{self.data_dir / 'catalog.sqlite'}"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def blob_root(self) -> Path:
        return self.data_dir / "blobs"

    def check_admin_token(self) -> None:
        """Raise `WeakAdminToken` unless the token is strong or `dev_mode` is on."""
        if self.dev_mode:
            return
        token = self.admin_token.get_secret_value()
        if not token:
            raise WeakAdminToken("is empty")
        if token.strip().lower() in WEAK_ADMIN_TOKENS:
            raise WeakAdminToken("is a well-known default")
        if len(token) < MIN_ADMIN_TOKEN_CHARS:
            raise WeakAdminToken(f"is shorter than {MIN_ADMIN_TOKEN_CHARS} characters")
