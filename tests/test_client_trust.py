"""One CA bundle for every https the fetcher speaks (`client_fetch.trust`).

httpx (manifests), `http.client` (blobs, tail ranges) and libtorrent (https trackers and web
seeds) each had their own default trust. Now all three get `CLIENT_FETCH_CA_FILE`, else
certifi's bundle: a server whose certificate a private CA signed is reached by every stack when
that CA is configured, and refused by every stack when it is not. Nothing reads a bundle before
https is used or a swarm session starts; a bundle holding no certificate is a usage error.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from pathlib import Path

import certifi
import httpx
import pytest
from pydantic import ValidationError

from client_fetch import wiring
from client_fetch.backoff import Backoff
from client_fetch.cache import HostCache
from client_fetch.errors import ExitCode, TrustStoreError
from client_fetch.fetcher import Fetcher, FetchPolicy
from client_fetch.manifest_client import ManifestClient
from client_fetch.partial_file import PartialFile
from client_fetch.planner import SourcePlanner
from client_fetch.progress import Progress
from client_fetch.settings import ClientSettings
from client_fetch.sources.base import Estimate, FetchReport
from client_fetch.sources.blob_connection import BlobTransferError, open_blob
from client_fetch.sources.swarm_source import SwarmSource
from client_fetch.trust import TrustStore
from image_format.envelope import load_public_keys
from image_format.manifest import Manifest
from image_format.names import ImageRef
from tests.fakes.hello_server import BODY, https_hello_server
from tests.fixtures.distributor_server import RunningDistributor, publish
from tests.support import make_image, run_client

KEY = "ed25519:XHzgrrRyVZ9HF2AQPKStaTx2kMvIj6ttpx2QVbjdLVY="


@pytest.fixture()
def published(
    distributor: RunningDistributor, tmp_path: Path
) -> tuple[RunningDistributor, Path, str]:
    image = tmp_path / "deb.img"
    digest = make_image(image, 1 << 20, seed=3)
    publish(distributor, "deb", "1.0", image)
    return distributor, image, digest


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    with https_hello_server(tmp_path) as served:
        yield served


def _settings(tmp_path: Path, ca_file: Path | None) -> ClientSettings:
    return ClientSettings(
        servers=["http://127.0.0.1:1"], key=KEY, cache_dir=tmp_path / "cache", ca_file=ca_file
    )


def _blob_body(url: str, trust: TrustStore) -> bytes:
    response = open_blob(url, {}, connect_timeout=5, stall_timeout=5, tls_context=trust.context)
    try:
        return response.read(1024)
    finally:
        response.close()


def test_httpx_and_the_blob_reader_trust_the_configured_ca_and_only_it(
    tmp_path: Path, tls_server: tuple[str, Path]
) -> None:
    url, cert = tls_server
    configured = _settings(tmp_path, cert)
    trust = TrustStore(configured.ca_file)
    with wiring.http_client(configured, trust) as client:
        assert client.get(url).content == BODY
    assert _blob_body(url, trust) == BODY

    default = TrustStore(None)  # certifi's bundle, which does not know the private CA
    assert default.path() == certifi.where()
    with (
        wiring.http_client(_settings(tmp_path, None), default) as client,
        pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"),
    ):
        client.get(url)
    with pytest.raises(BlobTransferError, match="CERTIFICATE_VERIFY_FAILED"):
        _blob_body(url, default)


def test_the_bundle_is_read_once_and_a_bad_one_is_a_usage_error(tmp_path: Path) -> None:
    trust = TrustStore()
    assert trust.context() is trust.context()
    assert trust.context().verify_mode == ssl.CERT_REQUIRED and trust.context().check_hostname
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate\n")
    with pytest.raises(TrustStoreError) as raised:
        TrustStore(bogus).context()
    assert raised.value.path == str(bogus) and raised.value.exit_code == ExitCode.USAGE


def test_a_ca_file_that_does_not_exist_is_refused_with_the_settings(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="ca_file"):
        _settings(tmp_path, tmp_path / "missing.pem")


def test_every_swarm_session_gets_the_checked_bundle(tmp_path: Path) -> None:
    """libtorrent follows a tracker's or web seed's redirect to https, so even a torrent whose
    URLs are all http:// gets the bundle, and only as a session starts."""
    asked: list[str] = []

    def ca_file() -> str:
        asked.append("ca")
        return "/the/bundle.pem"

    settings = _settings(tmp_path, None)
    source = SwarmSource(
        settings.servers,
        httpx.Client(),
        wiring.swarm_config(settings),
        stall_timeout_seconds=5,
        resume_path=lambda digest: tmp_path / digest,
        ca_file=ca_file,
    )
    assert asked == []
    config = source._session_config()
    assert config.ca_file == "/the/bundle.pem" and config.ca_file_overrides_environment
    assert asked == ["ca"]


def test_the_bundle_for_libtorrent_is_read_first(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate\n")
    with pytest.raises(TrustStoreError):
        TrustStore(bogus).checked_path()


def test_certifis_bundle_is_named_to_libtorrent_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    def unreadable(*args: object, **kwargs: object) -> ssl.SSLContext:
        raise ssl.SSLError("read")

    monkeypatch.setattr(ssl, "create_default_context", unreadable)
    store = TrustStore()
    assert store.checked_path() == certifi.where()
    with pytest.raises(TrustStoreError):  # https still reads it, on first use
        store.context()


class _HttpsOnlySource:
    """A source whose first https request finds the bundle unusable (as the blob reader does
    when certifi's own bundle is broken), counting its tries."""

    name = "https://mirror.example"
    method = "http"
    writes_in_order = True

    def __init__(self) -> None:
        self.tries = 0

    def estimate(self, manifest: Manifest, resume_offset: int) -> Estimate:
        return Estimate(self.name, self.method, manifest.size, self.name)

    def fetch(
        self, manifest: Manifest, partial: PartialFile, progress: Progress, report: FetchReport
    ) -> None:
        self.tries += 1
        raise TrustStoreError("/broken/cacert.pem", "no certificate or crl found")


def test_a_bundle_a_source_finds_unusable_ends_the_fetch_without_retries(
    published: tuple[RunningDistributor, Path, str], tmp_path: Path
) -> None:
    """Configuration, not a failing server: no other round, no other source (exit 2)."""
    dist, _, _ = published
    source = _HttpsOnlySource()
    no_wait = Backoff(0.0, 0.0, sleep=lambda _: None)
    with httpx.Client() as client:
        fetcher = Fetcher(
            cache=HostCache(tmp_path / "cache"),
            manifests=ManifestClient(
                client, [dist.url], load_public_keys(dist.public_key), no_wait, 1
            ),
            planner=SourcePlanner("http", [source], None, lambda _: None, 1, []),
            backoff=no_wait,
            policy=FetchPolicy(rounds=3),
            progress_factory=lambda label, total: Progress(label, total),
        )
        with pytest.raises(TrustStoreError) as raised:
            fetcher.get(ImageRef.parse("deb@1.0"))
    assert source.tries == 1 and raised.value.exit_code == ExitCode.USAGE


def test_a_configured_bundle_is_read_before_any_source_is_chosen(
    published: tuple[RunningDistributor, Path, str], tmp_path: Path
) -> None:
    """Over http:// only, a bad configured bundle is exit 2 whether the plan would have taken the
    swarm (which reads it) or plain HTTP (which would not)."""
    dist, _, _ = published
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate\n")
    for via in ("http", "swarm"):
        run = run_client(
            *("get", "deb@1.0", "--server", dist.url, "--key", dist.public_key, "--via", via),
            *("--cache", str(tmp_path / f"cache-{via}"), "--json"),
            env={**os.environ, "CLIENT_FETCH_CA_FILE": str(bogus)},
        )
        assert run.returncode == ExitCode.USAGE, (via, run.stderr)
        assert str(bogus) in run.stderr
