"""Configuration of the seeder daemon, from `SEEDER_*` environment variables and flags.

Nothing here builds a settings object at import time: `seeder.cli` builds one. Error contract:
pydantic's `ValidationError` for malformed values.
"""

from __future__ import annotations

import socket
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from image_format.names import validate_name


def _hostname() -> str:
    name = socket.gethostname().split(".")[0] or "seeder"
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in name)[:128]


class SeederSettings(BaseSettings):
    """Everything one seeder needs; sizes in bytes, times in seconds, as the names say."""

    model_config = SettingsConfigDict(env_prefix="SEEDER_", extra="ignore")

    distributor_url: str
    data_dir: Path
    key: str
    """A public key `ed25519:...` or a file of keys; manifests not signed by one are refused."""
    listen_interfaces: str = "0.0.0.0:6881"
    seeder_id: str = Field(default_factory=_hostname)
    """How the distributor's swarm health names this seeder: an image-name-like id."""
    poll_seconds: float = Field(default=5.0, gt=0)
    report_seconds: float = Field(default=10.0, gt=0)
    distributor_token: SecretStr = SecretStr("")
    upload_rate_limit_bytes_per_second: int = Field(default=0, ge=0)
    connections_limit: int = Field(default=500, ge=1)
    max_requests_per_peer: int = Field(default=8, ge=1)
    """Block requests (16 KiB) queued per peer; the rest are rejected and asked elsewhere. Few
    keep the origin from sending one piece to two peers at once; with `unchoke_slots` they bound
    the origin's rate over a path of round-trip time T to slots * requests * 16 KiB / T (8 * 8
    over 100 ms: ~84 Mbit/s): raise them for a fast origin far from its hosts."""
    unchoke_slots: int = Field(default=8, ge=1)
    """Peers the seeder uploads to at once."""
    tick_interval_milliseconds: int = Field(default=100, ge=10, le=1000)
    """libtorrent's internal clock. libtorrent hands out the upload slots that hosts free by
    leaving in its once-a-second round, run on the first tick after the second is up: every
    1.0-1.5 s at libtorrent's 500 ms tick, 1.0-1.1 s at 100 ms. Measured (bench.swarm): N=16 went
    from 1.57-1.80x to 1.44-1.49x the bound of S_nz."""
    allow_multiple_connections_per_ip: bool = False
    rate_limit_local_peers: bool = False
    http_timeout_seconds: float = Field(default=30.0, gt=0)
    stall_timeout_seconds: float = Field(default=120.0, gt=0)
    """A remote seeder's own download of a version gives up (and retries later) after this."""
    remove_unlisted_after_hours: float = Field(default=24.0, ge=0)
    """A seeder with storage of its own removes a file it downloaded itself once no listed
    version has named it for this long (`seeder.pruner`); 0 keeps every file. Never in a
    distributor's data directory (`distributor gc` owns that)."""

    @field_validator("seeder_id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        return validate_name(value)

    @property
    def blob_root(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def work_dir(self) -> Path:
        """Partial downloads and resume data of a remote seeder."""
        return self.data_dir / "seeder"
