"""Behind a reverse proxy (https termination), the tracker must hand out each host's own address,
not the proxy's: the distributor believes `X-Forwarded-For` from `DISTRIBUTOR_FORWARDED_ALLOW_IPS`
(loopback by default) and from nobody else."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote_from_bytes

import httpx
import pytest
from pydantic import ValidationError

from distributor.settings import DistributorSettings
from image_format.bencode import bdecode
from image_format.content_paths import announce_path
from tests.fixtures.distributor_server import running_distributor
from tests.tracker_helpers import announce, peer_id, published_torrent, tracker_hash


def _compact(blob: bytes) -> set[tuple[str, int]]:
    return {
        (".".join(str(b) for b in blob[i : i + 4]), int.from_bytes(blob[i + 4 : i + 6]))
        for i in range(0, len(blob), 6)
    }


def _announce_through_proxy(url: str, info_hash: bytes, forwarded_for: str) -> None:
    fields = {
        "info_hash": info_hash,
        "peer_id": peer_id(1),
        "port": 6001,
        "uploaded": 0,
        "downloaded": 0,
        "left": 1,
        "compact": 1,
    }
    query = "&".join(
        f"{k}={quote_from_bytes(v if isinstance(v, bytes) else str(v).encode(), safe='')}"
        for k, v in fields.items()
    )
    answer = httpx.get(
        f"{url}{announce_path()}?{query}", headers={"X-Forwarded-For": forwarded_for}, timeout=10
    )
    body = bdecode(answer.content)
    assert isinstance(body, dict) and b"failure reason" not in body, body


@pytest.mark.parametrize(
    ("trusted", "seen_as"),
    [(None, "203.0.113.5"), ('["192.0.2.10"]', "127.0.0.1")],
    ids=["loopback-proxy-trusted", "proxy-not-trusted"],
)
def test_the_tracker_hands_out_the_address_the_proxy_forwarded_for(
    tmp_path: Path, trusted: str | None, seen_as: str
) -> None:
    env = {} if trusted is None else {"DISTRIBUTOR_FORWARDED_ALLOW_IPS": trusted}
    with running_distributor(tmp_path / "distributor", extra_env=env) as server:
        info_hash = tracker_hash(published_torrent(server, tmp_path, "proxied", "1"))
        _announce_through_proxy(server.url, info_hash, "203.0.113.5")
        other = announce(server.url, info_hash, 2, ip="198.51.100.2")
    assert _compact(other[b"peers"]) == {(seen_as, 6001)}


def test_a_proxy_list_entry_must_be_an_address_a_network_or_a_star() -> None:
    assert DistributorSettings(forwarded_allow_ips=["*"]).forwarded_allow_ips == ["*"]
    assert DistributorSettings(forwarded_allow_ips=["10.0.0.0/8", "::1"]).forwarded_allow_ips
    with pytest.raises(ValidationError):
        DistributorSettings(forwarded_allow_ips=["proxy.example"])
