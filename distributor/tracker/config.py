"""The tracker's tunables, as plain values (the server builds them from `DistributorSettings`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrackerConfig:
    """Intervals the tracker tells clients, expiry, and bounds on what one request gets.

    `numwant` above `numwant_max` is clamped (not refused); absent, it is `numwant_default`.
    The `ip` parameter is honoured only from a client in `ip_override_networks` (a trusted proxy
    or loopback test harness); anyone else is seen at the address it connects from.
    `max_peers_per_address` bounds one address's peers per swarm (hosts behind one NAT share an
    address; made-up peer ids from one host must not fill `max_peers_per_swarm`).

    `client_min_announce_seconds`: libtorrent (our hosts and seeders, and qBittorrent or Deluge)
    re-announces at most every 300 s (its `min_announce_interval`) whatever shorter interval a
    tracker asks for. Peers expire only after missing two such periods: with a 60 s interval they
    used to expire after 150 s of the 300, so every libtorrent peer, the project's seeders too,
    was missing from the tracker for half the time and a new host often found no seeder.
    """

    interval_seconds: int = 300
    min_interval_seconds: int = 30
    client_min_announce_seconds: int = 300
    peer_grace_seconds: float = 30.0
    numwant_default: int = 50
    numwant_max: int = 200
    max_peers_per_swarm: int = 100_000
    max_peers_per_address: int = 64
    scrape_max_swarms: int = 1000
    ip_override_networks: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    catalog_refresh_min_seconds: float = 1.0

    @property
    def peer_ttl_seconds(self) -> float:
        """A peer that missed two announces (plus grace) is gone; an announce comes every
        `interval_seconds`, or every `client_min_announce_seconds` from a client that will not
        announce more often."""
        period = max(self.interval_seconds, self.client_min_announce_seconds)
        return 2 * period + self.peer_grace_seconds

    @property
    def effective_min_interval_seconds(self) -> int:
        return min(self.min_interval_seconds, self.interval_seconds)
