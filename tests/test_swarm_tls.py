"""https trackers: libtorrent's own OpenSSL trusts only what the environment names, so a session
names `SwarmConfig.ca_file` to it while it starts, and the fetcher and the seeder give it the CA
bundle their HTTP client trusts (`swarm.tls`).

A real libtorrent session announces to an https tracker of our own whose certificate a private CA
signed: refused ("certificate verify failed") while nothing names a CA, as on a host, where the
wheel's built-in store path does not exist; answered when the session's `ca_file` is the CA, and
the environment is as it was afterwards.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import certifi
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from seeder.daemon import swarm_config as seeder_swarm_config
from seeder.settings import SeederSettings
from swarm.session import SwarmSession
from swarm.tls import OPENSSL_CA_VARIABLES, ca_environment, openssl_trusting
from swarm.torrent_maker import make_torrent
from tests.fakes.tracker_stub import StubTracker, stub_tracker
from tests.swarm_helpers import loopback_session

HOST = "127.0.0.71"


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey,
) -> x509.Certificate:
    """A CA's self-signed certificate (`issuer` None), or a server certificate for HOST."""
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    else:
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))])
        builder = builder.add_extension(san, critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def private_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate for HOST, server key), PEM files."""
    folder = tmp_path_factory.mktemp("ca")
    ca_key, server_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca = _certificate("test CA", ca_key, None, ca_key)
    server = _certificate(HOST, server_key, ca, ca_key)
    pem = serialization.Encoding.PEM
    (folder / "ca.pem").write_bytes(ca.public_bytes(pem))
    (folder / "server.pem").write_bytes(server.public_bytes(pem))
    pkcs8, unencrypted = serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    (folder / "server.key").write_bytes(server_key.private_bytes(pem, pkcs8, unencrypted))
    return folder / "ca.pem", folder / "server.pem", folder / "server.key"


@contextmanager
def https_tracker(certificate: Path, key: Path) -> Iterator[StubTracker]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    with stub_tracker(HOST, tls=context) as tracker:
        yield tracker


def _announce_failures(session: SwarmSession, tracker: StubTracker, tmp_path: Path) -> int:
    """Seed a small torrent announcing to `tracker_url`; wait until the tracker was asked or
    libtorrent counted a failed announce (15 s at most); return the failures counted."""
    image = tmp_path / "image"
    image.write_bytes(os.urandom(256 << 10))
    made = make_torrent(image, name="img", announce_url=tracker.url, piece_length=64 << 10)
    torrent = session.add_seed(made.data, image)
    failures = 0
    deadline = time.monotonic() + 15
    while not tracker.asked and not failures and time.monotonic() < deadline:
        failures = sum(
            int(state.get("fails", 0))
            for tracker in torrent.handle.trackers()
            for endpoint in tracker.get("endpoints", [])
            for state in endpoint.get("info_hashes") or [endpoint]
        )
        time.sleep(0.05)
    return failures


@pytest.fixture
def no_ca_in_environment() -> Iterator[None]:
    """The environment without SSL_CERT_FILE / SSL_CERT_DIR, all of it restored afterwards."""
    saved = dict(os.environ)
    for name in OPENSSL_CA_VARIABLES:
        os.environ.pop(name, None)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.mark.usefixtures("no_ca_in_environment")
def test_libtorrent_refuses_an_https_tracker_while_the_environment_names_no_ca(
    private_ca: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    with https_tracker(*private_ca[1:]) as tracker, loopback_session(72) as session:
        failures = _announce_failures(session, tracker, tmp_path)
    assert failures > 0
    assert tracker.asked == []  # no announce got through


@pytest.mark.usefixtures("no_ca_in_environment")
def test_a_session_trusts_its_ca_file_and_leaves_the_environment_alone(
    private_ca: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    before = dict(os.environ)
    with (
        https_tracker(*private_ca[1:]) as tracker,
        loopback_session(73, ca_file=str(private_ca[0])) as session,
    ):
        assert dict(os.environ) == before  # named to OpenSSL only while the session started
        failures = _announce_failures(session, tracker, tmp_path)
    assert failures == 0
    assert tracker.asked and all(path.startswith("/announce?") for _, path in tracker.asked)


def test_a_ca_the_environment_already_names_wins() -> None:
    assert ca_environment("/bundle.pem", {}) == {"SSL_CERT_FILE": "/bundle.pem"}
    assert ca_environment("/bundle.pem", {"SSL_CERT_FILE": "/host.pem"}) == {}
    assert ca_environment("/bundle.pem", {"SSL_CERT_DIR": "/etc/ssl/certs"}) == {}
    assert ca_environment("/bundle.pem", {"SSL_CERT_FILE": ""}) == {"SSL_CERT_FILE": "/bundle.pem"}


def test_an_overriding_ca_file_replaces_what_the_environment_names() -> None:
    host = {"SSL_CERT_FILE": "/host.pem", "SSL_CERT_DIR": "/etc/ssl/certs"}
    assert ca_environment("/bundle.pem", host, override_environment=True) == {
        "SSL_CERT_FILE": "/bundle.pem",
        "SSL_CERT_DIR": None,
    }
    assert ca_environment("/bundle.pem", {}, override_environment=True) == {
        "SSL_CERT_FILE": "/bundle.pem"
    }


def test_openssl_trusting_puts_the_environment_back_exactly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", "/host.pem")
    monkeypatch.setenv("SSL_CERT_DIR", "/etc/ssl/certs")
    with openssl_trusting("/bundle.pem", override_environment=True):
        assert os.environ["SSL_CERT_FILE"] == "/bundle.pem"
        assert "SSL_CERT_DIR" not in os.environ
    assert (os.environ["SSL_CERT_FILE"], os.environ["SSL_CERT_DIR"]) == (
        "/host.pem",
        "/etc/ssl/certs",
    )
    with openssl_trusting("/bundle.pem"):
        assert os.environ["SSL_CERT_FILE"] == "/host.pem"  # the host's choice wins by default
    monkeypatch.delenv("SSL_CERT_DIR")
    monkeypatch.delenv("SSL_CERT_FILE")
    with openssl_trusting("/bundle.pem"):
        assert os.environ["SSL_CERT_FILE"] == "/bundle.pem"
    assert "SSL_CERT_FILE" not in os.environ and "SSL_CERT_DIR" not in os.environ


@pytest.mark.usefixtures("no_ca_in_environment")
def test_an_overriding_ca_file_is_trusted_although_the_environment_names_another(
    private_ca: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fetcher's case: its HTTP clients trust exactly its bundle, and so must libtorrent,
    whatever CA the environment names (here certifi's, which does not know the private CA)."""
    monkeypatch.setenv("SSL_CERT_FILE", certifi.where())
    ca = str(private_ca[0])
    with https_tracker(*private_ca[1:]) as tracker:
        with loopback_session(74, ca_file=ca) as session:
            assert _announce_failures(session, tracker, tmp_path) > 0  # the environment won
        assert tracker.asked == []
        (tmp_path / "again").mkdir()
        with loopback_session(75, ca_file=ca, ca_file_overrides_environment=True) as session:
            assert _announce_failures(session, tracker, tmp_path / "again") == 0
    assert tracker.asked
    assert os.environ["SSL_CERT_FILE"] == certifi.where()


def test_the_seeder_hands_libtorrent_its_http_clients_ca_bundle(tmp_path: Path) -> None:
    """The seeder's catalog client is httpx with the environment trusted (certifi's bundle unless
    SSL_CERT_FILE/DIR say otherwise), so a CA the environment names wins in libtorrent too."""
    settings = SeederSettings(
        distributor_url="http://127.0.0.1:1", data_dir=tmp_path, key="ed25519:AAAA"
    )
    config = seeder_swarm_config(settings)
    assert config.ca_file == certifi.where()
    assert not config.ca_file_overrides_environment
