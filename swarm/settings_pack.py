"""`SwarmConfig` → libtorrent session parameters (settings pack and disk backend)."""

from __future__ import annotations

from typing import Any

import libtorrent as lt

from swarm.config import SettingValue, SwarmConfig

# pread/pwrite: memory stays bounded on volunteer desktops (mmap grows the page cache we are
# charged for). The binding takes the constructor by name and ignores names it does not know.
DISK_IO_CONSTRUCTOR = "pread_disk_io_constructor"
STOP_ANNOUNCE_SECONDS = 2
"""How long leaving waits for the trackers to answer `stopped` (libtorrent's own bound too)."""

ALERT_MASK = (
    lt.alert_category.error
    | lt.alert_category.status
    | lt.alert_category.storage
    | lt.alert_category.peer
    | lt.alert_category.block_progress
    | lt.alert_category.piece_progress
)

ALERT_QUEUE_SIZE = 100_000


def settings_for(config: SwarmConfig) -> dict[str, SettingValue]:
    settings: dict[str, SettingValue] = {
        "listen_interfaces": config.listen_interfaces,
        "max_retry_port_bind": config.listen_port_retries,
        # Without retries, no fallback to a port of the system's choosing either.
        "listen_system_port_fallback": config.listen_port_retries > 0,
        "enable_dht": False,
        "enable_lsd": False,
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_outgoing_utp": config.enable_utp,
        "enable_incoming_utp": config.enable_utp,
        "enable_outgoing_tcp": True,
        "enable_incoming_tcp": True,
        "upload_rate_limit": config.upload_rate_limit_bytes_per_second,
        "download_rate_limit": config.download_rate_limit_bytes_per_second,
        "connections_limit": config.connections_limit,
        "allow_multiple_connections_per_ip": config.allow_multiple_connections_per_ip,
        "max_queued_disk_bytes": config.max_queued_disk_bytes,
        "aio_threads": config.disk_threads,
        "hashing_threads": config.hashing_threads,
        "urlseed_wait_retry": config.web_seed_retry_seconds,
        "unchoke_slots_limit": config.unchoke_slots_limit,
        "tick_interval": config.tick_interval_milliseconds,
        "whole_pieces_threshold": config.whole_pieces_threshold_seconds,
        "max_allowed_in_request_queue": config.max_requests_per_peer,
        "user_agent": config.user_agent,
        "alert_mask": ALERT_MASK,
        "alert_queue_size": ALERT_QUEUE_SIZE,
        # Every torrent we add is active: we add only what we mean to move.
        "active_downloads": -1,
        "active_seeds": -1,
        "active_limit": -1,
        # Rarest first from the first piece. libtorrent's default (4) picks a host's first pieces
        # at random and then prefers finishing what it started: as soon as one host holds a
        # piece, every starting host takes that piece and finishes it from the origin too.
        "initial_picker_threshold": 0,
        # No "allowed fast" pieces (BEP 6) for choked peers: the set is derived from the peer's
        # /24, so hosts behind one network (or a flash crowd the origin keeps choked) would all
        # fetch the same few pieces from the origin outside its unchoke slots.
        "allowed_fast_set_size": 0,
        "stop_tracker_timeout": STOP_ANNOUNCE_SECONDS,
        "close_redundant_connections": True,
        "ssrf_mitigation": config.ssrf_mitigation,
    }
    if config.announce_ip:
        settings["announce_ip"] = config.announce_ip
    if config.outgoing_interface:
        settings["outgoing_interfaces"] = config.outgoing_interface
    settings.update(dict(config.extra_settings))
    return settings


def session_params_for(config: SwarmConfig) -> Any:
    params: Any = lt.session_params()
    params.settings = settings_for(config)
    params.disk_io_constructor = DISK_IO_CONSTRUCTOR
    return params


def everyone_global_filter(session: Any) -> Any:
    """A peer-class filter putting every address in the global class (so limits apply to all)."""
    rules: Any = lt.ip_filter()
    everyone = 1 << int(session.global_peer_class_id)
    rules.add_rule("0.0.0.0", "255.255.255.255", everyone)
    rules.add_rule("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", everyone)
    return rules
