"""The JSON shape of swarm health (`GET /v1/swarm/health`); the dashboard and /metrics render it.

Byte counts are since the server started (counters live in memory). Sources of each number:
`tracker` from announces, `origin_*` from the origin's own counters for the image blob (plain
HTTP and web-seed requests alike), `fetches` from hosts' fetch reports, `seeders` from the
seeders' latest reports. `patches` gives each of the version's delta patches that has a torrent
the same tracker, origin and seeder numbers for its own swarm.
"""

from __future__ import annotations

from pydantic import BaseModel, Field


class TrackerCounts(BaseModel):
    """The swarm as the tracker sees it; uploaded/downloaded are what peers announced."""

    seeders: int = 0
    leechers: int = 0
    completed: int = 0
    uploaded_bytes: int = 0
    downloaded_bytes: int = 0


class FetchOutcomes(BaseModel):
    """Hosts' fetch reports for the version, added up."""

    reports: int = 0
    ok: int = 0
    failed: int = 0
    by_method: dict[str, dict[str, int]] = Field(default_factory=dict)
    bytes_from_peers: int = 0
    bytes_from_origin: int = 0
    bytes_from_mirrors: int = 0
    hash_failures: int = 0
    seconds_total: float = 0.0


class SeederTorrentHealth(BaseModel):
    """One seeder's numbers for one version (cumulative since that seeder started)."""

    seeder_id: str
    stale: bool
    state: str
    uploaded_bytes: int
    num_peers: int
    hash_failures: int


class _BlobSwarmHealth(BaseModel):
    """What an image and a patch share: the blob, its torrent's swarm, the origin's bytes for the
    blob, and each seeder's numbers for the torrent."""

    sha256: str
    size: int
    info_hash_v1: str | None = None
    info_hash_v2: str | None = None
    tracker: TrackerCounts
    origin_bytes_sent: int = 0
    origin_requests: int = 0
    seeders: list[SeederTorrentHealth] = Field(default_factory=list)


class PatchHealth(_BlobSwarmHealth):
    """One patch of the version, from `from_version`, with its own swarm."""

    from_version: str


class VersionHealth(_BlobSwarmHealth):
    name: str
    version: str
    origin_full_transfers: int = 0
    bytes_from_peers: int = 0
    hash_failures: int = 0
    fetches: FetchOutcomes = Field(default_factory=FetchOutcomes)
    patches: list[PatchHealth] = Field(default_factory=list)


class SeederHealth(BaseModel):
    seeder_id: str
    listen_address: str
    endpoint: str
    stale: bool
    last_report: str
    seconds_since_report: float
    torrents: int


class SwarmHealth(BaseModel):
    generated: str
    tracker_interval_seconds: int
    seeder_stale_after_seconds: float
    versions: list[VersionHealth]
    seeders: list[SeederHealth]
