"""What libtorrent's own OpenSSL needs to verify https trackers and web seeds.

The libtorrent wheel links its own OpenSSL, whose default certificate store is a path on the
wheel's build machine (`/opt/_internal/openssl-3.5/cert.pem`), absent on hosts. Unless the
environment names a CA file or directory, every https announce and web seed request fails with
"certificate verify failed": a fetcher's swarm gets no peers and falls back to plain HTTP, and a
seeder is never announced. OpenSSL reads `SSL_CERT_FILE` / `SSL_CERT_DIR` when a session starts
(libtorrent loads its default verify paths then, on the thread making the session), so
`openssl_trusting` names the CA file in the environment for just that moment: the rest of the
process (Python's `ssl` defaults, child processes) keeps the host's settings. By default a CA
file or directory the environment names wins (the seeder's HTTP client trusts those too); with
`override_environment` the given file is the only one OpenSSL sees for that moment (the fetcher's
HTTP clients trust exactly its configured bundle, whatever the environment says). Not responsible
for choosing the CA bundle (the caller's: the one its HTTP client trusts).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

OPENSSL_CA_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR")


def ca_environment(
    ca_file: str, environ: Mapping[str, str], *, override_environment: bool = False
) -> dict[str, str | None]:
    """How `environ` must change so that libtorrent trusts the certificates in `ca_file`: a value
    to set, or None to unset. Nothing when `environ` already names a CA file or directory (the
    host's choice wins), unless `override_environment`: then `ca_file` replaces them."""
    named = [name for name in OPENSSL_CA_VARIABLES if environ.get(name)]
    if named and not override_environment:
        return {}
    changes: dict[str, str | None] = {name: None for name in named}
    changes["SSL_CERT_FILE"] = ca_file
    return changes


@contextmanager
def openssl_trusting(ca_file: str | None, *, override_environment: bool = False) -> Iterator[None]:
    """While the block runs, the process environment names `ca_file` to OpenSSL (see
    `ca_environment`; nothing when None); exactly as it was again afterwards."""
    changes = (
        ca_environment(ca_file, os.environ, override_environment=override_environment)
        if ca_file is not None
        else {}
    )
    saved = {name: os.environ.get(name) for name in changes}
    _apply(changes)
    try:
        yield
    finally:
        _apply(saved)


def _apply(changes: Mapping[str, str | None]) -> None:
    for name, value in changes.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
