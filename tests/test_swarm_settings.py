"""The libtorrent settings our swarm sessions run with: the knobs the swarm benchmark tuned."""

from __future__ import annotations

from pathlib import Path

import libtorrent as lt

from seeder.daemon import swarm_config as seeder_swarm_config
from seeder.settings import SeederSettings
from swarm.config import SwarmConfig
from swarm.settings_pack import session_params_for


def _session_settings(config: SwarmConfig) -> dict[str, object]:
    session = lt.session(session_params_for(config))
    try:
        return dict(session.get_settings())
    finally:
        session.pause()


def test_hosts_ask_for_the_rarest_blocks_unless_told_to_take_whole_pieces() -> None:
    from client_fetch.settings import ClientSettings
    from client_fetch.wiring import swarm_config

    applied = _session_settings(swarm_config(ClientSettings()))
    # Rarest blocks: no index-order runs of pieces fetched from the origin side by side.
    assert applied["whole_pieces_threshold"] == 0
    assert applied["use_parole_mode"] is True  # after a failed piece: whole pieces from suspects
    assert applied["enable_dht"] is False and applied["enable_outgoing_utp"] is False
    whole = ClientSettings(swarm_whole_pieces_threshold_seconds=20)
    assert _session_settings(swarm_config(whole))["whole_pieces_threshold"] == 20


def test_seeder_queues_few_requests_per_peer(tmp_path: Path) -> None:
    settings = SeederSettings(
        distributor_url="http://127.0.0.1:1", data_dir=tmp_path, key="ed25519:AAAA"
    )
    applied = _session_settings(seeder_swarm_config(settings))
    assert applied["max_allowed_in_request_queue"] == 8
    assert applied["unchoke_slots_limit"] == 8
    far = settings.model_copy(update={"max_requests_per_peer": 32, "unchoke_slots": 20})
    applied = _session_settings(seeder_swarm_config(far))
    assert applied["max_allowed_in_request_queue"] == 32
    assert applied["unchoke_slots_limit"] == 20


def test_the_seeder_ticks_faster_than_hosts(tmp_path: Path) -> None:
    """A slot freed by a host that left goes to a waiting host in libtorrent's once-a-second
    round, which runs on the first tick after the second is up."""
    from client_fetch.settings import ClientSettings
    from client_fetch.wiring import swarm_config

    settings = SeederSettings(
        distributor_url="http://127.0.0.1:1", data_dir=tmp_path, key="ed25519:AAAA"
    )
    assert _session_settings(seeder_swarm_config(settings))["tick_interval"] == 100
    slower = settings.model_copy(update={"tick_interval_milliseconds": 250})
    assert _session_settings(seeder_swarm_config(slower))["tick_interval"] == 250
    assert _session_settings(swarm_config(ClientSettings()))["tick_interval"] == 500


def test_extra_settings_apply_last() -> None:
    config = SwarmConfig(
        listen_interfaces="127.0.0.1:0", extra_settings=(("whole_pieces_threshold", 3),)
    )
    assert _session_settings(config)["whole_pieces_threshold"] == 3


def test_hosts_read_their_stuck_last_pieces_over_http_unless_told_not_to() -> None:
    from client_fetch.settings import ClientSettings
    from client_fetch.wiring import swarm_config

    assert swarm_config(ClientSettings()).tail_fetch_bytes == 1 << 20
    assert swarm_config(ClientSettings(swarm_tail_fetch_bytes=0)).tail_fetch_bytes == 0
