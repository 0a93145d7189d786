"""Settings of the fetcher: flags override `CLIENT_FETCH_*` environment variables override defaults.

Built once, in the CLI (`client_fetch.cli`); library code receives values, never reads the
environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import Field, FilePath, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def default_cache_dir() -> Path:
    return Path.home() / ".cache" / "client-fetch"


class ClientSettings(BaseSettings):
    """Every knob of `client-fetch`. Env: `CLIENT_FETCH_<FIELD>`; lists may be comma-separated."""

    model_config = SettingsConfigDict(env_prefix="CLIENT_FETCH_", extra="ignore")

    servers: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="distributor base URLs, tried in order"
    )
    key: str | None = Field(None, description="trusted public key(s): 'ed25519:...' or a file")
    cache_dir: Path = Field(default_factory=default_cache_dir, description="host cache root")
    cache_quota_bytes: int | None = Field(None, ge=0, description="LRU quota; none = unbounded")
    connect_timeout_seconds: float = Field(10.0, gt=0)
    stall_timeout_seconds: float = Field(
        30.0, gt=0, description="no bytes for this long fails the server"
    )
    retry_rounds: int = Field(
        6, ge=1, description="passes over the server list; 6 ride out ~8-15 s of outage"
    )
    backoff_initial_seconds: float = Field(0.5, ge=0)
    backoff_max_seconds: float = Field(8.0, ge=0)
    lock_timeout_seconds: float = Field(
        6 * 3600.0, gt=0, description="how long to wait for another process's download"
    )
    progress_file: Path | None = Field(None, description="fraction done, for the task wrapper")
    http_read_bytes: int = Field(1 << 20, ge=4096, description="read size of HTTP downloads")
    chunk_parallel_requests: int = Field(
        8, ge=1, le=64, description="chunks fetched at once over HTTP"
    )
    report_fetches: bool = Field(True, description="tell the distributor how each get went")
    ca_file: FilePath | None = Field(
        None,
        description="CA certificates (PEM) trusted for https servers, mirrors, trackers and web "
        "seeds; default: certifi's bundle",
    )

    swarm_listen_interfaces: str = Field("0.0.0.0:0", description="libtorrent listen address")
    swarm_outgoing_interface: str | None = Field(None, description="bind outgoing peer links")
    swarm_upload_limit_bytes_per_second: int = Field(0, ge=0, description="0 = unlimited")
    swarm_download_limit_bytes_per_second: int = Field(0, ge=0, description="0 = unlimited")
    swarm_connections_limit: int = Field(50, ge=1)
    swarm_rate_limit_local_peers: bool = Field(
        False, description="apply the limits to LAN/loopback peers too (libtorrent exempts them)"
    )
    swarm_allow_multiple_connections_per_ip: bool = Field(
        False, description="several peers behind one address (NAT, tests)"
    )
    swarm_whole_pieces_threshold_seconds: int = Field(
        0,
        ge=0,
        description="whole pieces (in runs) from peers this fast; 0: the rarest blocks",
    )
    swarm_tail_fetch_bytes: int = Field(
        1 << 20,
        ge=0,
        description="last pieces no unchoking peer offers: read over HTTP when this few are left",
    )
    swarm_min_peers: int = Field(
        1, ge=1, description="auto: swarm first when the tracker knows a seeder and this many peers"
    )
    seed_upload_limit_bytes_per_second: int = Field(
        1_000_000, ge=0, description="`seed`: upload cap (0 = unlimited)"
    )
    seed_max_seconds: float = Field(3600.0, gt=0, description="`seed`: stop after this long")
    seed_max_ratio: float | None = Field(
        None, gt=0, description="`seed`: stop once every image uploaded this many times its size"
    )
    plan_http_rate_bytes_per_second: float = Field(
        12_500_000.0, gt=0, description="`plan`: HTTP rate until one is measured (100 Mbit/s)"
    )
    plan_swarm_rate_bytes_per_second: float = Field(
        25_000_000.0, gt=0, description="`plan`: swarm rate until one is measured"
    )
    swarm_stall_timeout_seconds: float = Field(
        60.0, gt=0, description="no swarm progress this long"
    )

    @field_validator("servers", mode="before")
    @classmethod
    def _split_servers(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("servers")
    @classmethod
    def _valid_urls(cls, value: list[str]) -> list[str]:
        """Valid http(s) URLs with a host (and a numeric port, if any), each server once: the
        same server given twice (`http://h:80/` and `http://H`) is asked once, so that every
        server answering 404 still means "no such image"."""
        servers: dict[tuple[str, str, int, str], str] = {}
        for url in value:
            servers.setdefault(_server_key(url), url.rstrip("/"))
        return list(servers.values())


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _server_key(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path) of a server URL, normalised; ValueError when it is not one."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"server URL {url!r} must start with http:// or https://")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # a port that is not a number in 0-65535, a broken [IPv6] host
        raise ValueError(f"server URL {url!r} is not a valid URL: {exc}") from exc
    if not parts.hostname:
        raise ValueError(f"server URL {url!r} names no host")
    if port == 0:
        raise ValueError(f"server URL {url!r}: port 0 cannot be connected to")
    scheme = parts.scheme.lower()
    return scheme, parts.hostname, port or _DEFAULT_PORTS[scheme], parts.path.rstrip("/")
