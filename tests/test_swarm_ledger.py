"""The byte ledger's split by kind of source, including when no block alert arrived at all."""

from __future__ import annotations

from swarm.status import TransferLedger

WEB = ("127.0.0.1", 8080)
PEER = ("127.0.0.7", 6881)


def test_blocks_seen_split_the_total_in_proportion() -> None:
    ledger = TransferLedger({WEB})
    ledger.add_block(WEB, 3 * 16384)
    ledger.add_block(PEER, 16384)
    assert ledger.split(4 * 16384) == (16384, 3 * 16384)


def test_without_block_alerts_a_torrent_with_web_seeds_and_no_peer_counts_web_seed_bytes() -> None:
    # libtorrent's peer list does not show web seed connections: nothing but the torrent's own
    # web seed URLs says where the bytes came from.
    assert TransferLedger({WEB}).split(1000) == (0, 1000)


def test_without_block_alerts_a_peer_that_was_seen_counts_as_the_source() -> None:
    ledger = TransferLedger({WEB})
    ledger.learn_peer(PEER)
    assert ledger.split(1000) == (1000, 0)
    assert TransferLedger(set()).split(1000) == (1000, 0)  # no web seeds at all


def test_without_block_alerts_web_seeds_never_added_cannot_be_the_source() -> None:
    """A download starts without its web seeds (they come only if the swarm stalls): when it
    ends between two looks at the peer list and no block alert arrived, its bytes came from a
    peer, not from web seed URLs the torrent merely names."""
    ledger = TransferLedger({WEB}, web_seeds_in_use=False)
    assert ledger.split(1000) == (1000, 0)
    ledger.web_seeds_added()
    assert ledger.split(1000) == (0, 1000)


def test_a_request_marks_a_peer_only_while_no_web_seed_is_in_the_torrent() -> None:
    """libtorrent asks web seeds for blocks the same way, possibly at an address their URL did
    not resolve to (a redirect, another DNS answer): once they are in, a request says nothing."""
    elsewhere = ("127.0.0.9", 8080)
    with_web_seeds = TransferLedger({WEB})
    with_web_seeds.learn_request(elsewhere)
    assert with_web_seeds.split(1000) == (0, 1000)
    without = TransferLedger({WEB}, web_seeds_in_use=False)
    without.learn_request(PEER)
    without.web_seeds_added()  # later: the peer was seen before, it stays the source
    assert without.split(1000) == (1000, 0)
