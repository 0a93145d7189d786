"""Listening: a host's session takes the next port when its port is taken (two tasks' fetchers
on one host); a seeder's refuses to start instead (peers and port forwards expect its port)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from swarm.config import SwarmConfig
from swarm.errors import SwarmError
from swarm.session import SwarmSession

HOST = "127.0.0.231"


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_a_host_moves_to_the_next_port(taken_port: int) -> None:
    with SwarmSession(SwarmConfig(listen_interfaces=f"{HOST}:{taken_port}")) as session:
        assert session.listen_port not in (0, taken_port)


def test_a_session_without_port_retries_refuses_a_taken_port(taken_port: int) -> None:
    config = SwarmConfig(listen_interfaces=f"{HOST}:{taken_port}", listen_port_retries=0)
    with pytest.raises(SwarmError, match="cannot listen"):
        SwarmSession(config)
