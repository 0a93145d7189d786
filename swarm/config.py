"""How a swarm session behaves: listen address, limits, the few tuned knobs.

A plain frozen dataclass, not pydantic-settings: each deployable (seeder, fetcher, benchmarks) maps
its own settings onto it. Importing this module does not load libtorrent. DHT, local service
discovery, UPnP and NAT-PMP are always off (private torrents, explicit peers and our tracker).
"""

from __future__ import annotations

from dataclasses import dataclass

SettingValue = int | bool | str


@dataclass(frozen=True)
class SwarmConfig:
    """One libtorrent session's configuration; sizes in bytes, times in seconds.

    Not responsible for validating addresses (libtorrent reports a bad `listen_interfaces` as a
    listen failure, which `SwarmSession` raises as `SwarmError`).
    """

    listen_interfaces: str
    """libtorrent's form: "127.0.0.2:0", "0.0.0.0:6881", "[::]:6881", comma-separated."""
    listen_port_retries: int = 10
    """When the port is taken, libtorrent tries the next ones, this many (its default). Hosts
    keep that: two tasks' fetchers on one host each get a port. A seeder says 0: peers and port
    forwards expect it on the port it was given, so a taken port is a start-up error."""
    upload_rate_limit_bytes_per_second: int = 0
    """0: unlimited."""
    download_rate_limit_bytes_per_second: int = 0
    connections_limit: int = 200
    allow_multiple_connections_per_ip: bool = False
    """Needed when several peers share one address (tests, NAT)."""
    rate_limit_local_peers: bool = False
    """Apply the rate limits to peers on local networks too (libtorrent exempts them by default)."""
    enable_utp: bool = False
    """TCP only by default: uTP measured 35 % slower here."""
    outgoing_interface: str | None = None
    """Bind outgoing connections to this interface or address (libtorrent's outgoing_interfaces)."""
    announce_ip: str | None = None
    """The address trackers are told to hand out for us (when we listen on one specific address)."""
    ssrf_mitigation: bool = False
    """libtorrent's SSRF guard refuses trackers on local addresses unless the path is exactly
    "/announce", which blocks our tracker (`/v1/tracker/announce`) on a LAN or loopback. Our
    torrents come from signed manifests that name their sha256, so the guard is off by default."""
    ca_file: str | None = None
    """CA certificates (PEM) for https trackers and web seeds. libtorrent's own OpenSSL has no
    usable default store on hosts (`swarm.tls`), so without this an https tracker fails
    certificate verification. Named to OpenSSL only while the session starts, and only when the
    environment names no CA file or directory of its own. None: OpenSSL's defaults."""
    ca_file_overrides_environment: bool = False
    """`ca_file` is named to OpenSSL even when the environment names a CA (`SSL_CERT_FILE`,
    `SSL_CERT_DIR`): for callers whose HTTP clients trust exactly `ca_file`."""
    max_queued_disk_bytes: int = 16 << 20
    """Bound on bytes waiting to be written (memory held by the disk backend)."""
    disk_threads: int = 4
    hashing_threads: int = 2
    web_seed_retry_seconds: int = 10
    """How long a failed web seed rests before libtorrent tries it again."""
    web_seed_fallback_seconds: float | None = 5.0
    """A download starts without its web seeds and adds them only when it made no progress for
    this long (a swarm without a seeder, or whose peers have nothing we lack), so a healthy swarm
    does not pull duplicate pieces from the origin over HTTP. None: web seeds from the start.
    Measured (bench.swarm, N=8, 100 Mbit, 256 MiB): web seeds from the start 1.86-2.20x the
    bound, 1.62-1.94·S from the origin; as a fallback after 5 s 1.76/1.82x, 1.47/1.53·S."""
    web_seed_no_peer_seconds: float = 2.0
    """...and sooner, when no peer at all is connected this long after the start."""
    tail_fetch_bytes: int = 1 << 20
    tail_fetch_share: float = 0.05
    tail_fetch_stall_seconds: float = 0.1
    """Back to the source for the last pieces: when at most `tail_fetch_bytes` and at most
    `tail_fetch_share` of a download's wanted bytes are missing, nothing arrived for
    `tail_fetch_stall_seconds`, and no connected peer that unchokes us holds a missing piece, those
    pieces are read over HTTP (`download_file`'s `read_range`), each at most once. A seeder keeps
    one of its interested peers choked between unchoke rounds (15 s with libtorrent's defaults);
    when the other hosts finish and leave, that host waited ~1 s for its last piece until the
    origin's next round, in half of the bench.swarm runs (N=8). The share keeps a small file (a
    patch) from going to HTTP before its swarm started. 0 bytes: never."""
    unchoke_slots_limit: int = 8
    tick_interval_milliseconds: int = 500
    """libtorrent's internal clock (its default). Among other things, upload slots freed by peers
    that left are handed out in libtorrent's once-a-second round, which runs on the first tick
    after the second is up; the seeder ticks faster (`seeder.settings`)."""
    whole_pieces_threshold_seconds: int = 0
    """libtorrent's whole_pieces_threshold. 0 (ours): request single blocks of the rarest pieces.
    libtorrent's default, 20, requests whole pieces from a peer fast enough to send one in that
    many seconds, and runs of neighbouring pieces (up to 8 MiB): hosts then walk the origin's
    pieces in index-order runs, and two hosts whose runs meet fetch the same pieces from the
    origin side by side. Measured (bench.swarm, N=8, 100 Mbit, 256 MiB, seeder queue 8): 20 →
    1.30-1.34·S from the origin, 1.50-1.54x the bound; 1 → 1.13-1.14·S, 1.32x; 0 → 1.05-1.06·S,
    1.24-1.26x. The price of 0: a piece mixes blocks from several peers, and a failed one counts
    against all of them, so a corrupt peer can get honest peers banned with it (a download
    stalled in 1 of 8 runs of a corrupt-seeder trial); `ban_rejoin_seconds` sheds those bans.
    Peers on parole after a failure send whole pieces either way (libtorrent's parole mode)."""
    ban_rejoin_seconds: float = 3.0
    ban_rejoins: int = 3
    """After a hash failure, no progress for `ban_rejoin_seconds` re-adds the torrent (keeping its
    verified pieces, dropping its bans), at most `ban_rejoins` times per download: a failed piece
    that mixed blocks from several peers gets all of them banned, honest ones too. libtorrent's
    inconsistent-hashes error re-adds it at once, from the same budget (`swarm.download_watch`)."""
    max_requests_per_peer: int = 2000
    """Block requests queued per peer (libtorrent's max_allowed_in_request_queue); the rest are
    rejected and the peer asks elsewhere. The seeder lowers it (see `seeder.daemon`)."""
    user_agent: str = "volunteer-image-distribution/0.1"
    extra_settings: tuple[tuple[str, SettingValue], ...] = ()
    """Any other libtorrent setting by name (benchmarks tune with this); applied last."""
