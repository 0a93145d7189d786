"""What a host remembers and tells: the fetch report's byte classes, the measured rates file."""

from __future__ import annotations

from pathlib import Path

import pytest

from client_fetch.fetch_reporter import report_from_result
from client_fetch.fetch_result import FetchResult
from client_fetch.rates import RateBook
from client_fetch.sources.chunked_source import DONORS
from client_fetch.sources.swarm_source import PEERS, WEB_SEEDS

ORIGIN, MIRROR = "http://origin.example", "http://mirror.example"


def test_donor_reads_are_not_network_bytes_in_the_fetch_report() -> None:
    result = FetchResult(
        path=Path("/cache/images/x"),
        name="deb",
        version="2",
        digest="0" * 64,
        size=10 << 20,
        method="chunks",
        bytes_downloaded=1000 + 300 + 20 + 5,
        bytes_by_source={
            ORIGIN: 1000,
            MIRROR: 300,
            PEERS: 20,
            WEB_SEEDS: 5,
            DONORS: 9_000_000,
            "local:/var/cache/chunks": 4096,
        },
    )
    report = report_from_result(result, [ORIGIN, MIRROR])
    assert (report.bytes_from_origin, report.bytes_from_mirrors, report.bytes_from_peers) == (
        1005,
        300,
        20,
    )
    total = report.bytes_from_origin + report.bytes_from_mirrors + report.bytes_from_peers
    assert total == result.bytes_downloaded


@pytest.mark.parametrize("body", ["[]", "null", "3", '"fast"', "true", "{not json", ""])
def test_a_rates_file_of_any_other_shape_is_an_empty_one(tmp_path: Path, body: str) -> None:
    (tmp_path / "rates.json").write_text(body)
    book = RateBook(tmp_path / "rates.json", {"http": 5.0})
    assert book.rate("http") == (5.0, False)
    book.record("http", 2 << 20, 1.0)  # and it is rewritten whole
    assert RateBook(tmp_path / "rates.json", {}).rate("http") == (2 << 20, True)


def test_only_positive_finite_numbers_count_as_measured_rates(tmp_path: Path) -> None:
    body = '{"http": 100, "swarm": -1, "delta": "7", "chunks": true, "x": 1e999, "y": NaN}'
    (tmp_path / "rates.json").write_text(body)
    book = RateBook(tmp_path / "rates.json", {"http": 5.0, "swarm": 6.0, "delta": 7.0})
    assert book.rate("http") == (100.0, True)
    assert [book.rate(m)[1] for m in ("swarm", "delta", "chunks", "x", "y")] == [False] * 5
