"""What libtorrent's own OpenSSL needs to verify https trackers and web seeds.

The libtorrent wheel links its own OpenSSL, whose default certificate store is a path on the
wheel's build machine (`/opt/_internal/openssl-3.5/cert.pem`), absent on hosts. Unless the
environment names a CA file or directory, every https announce and web seed request fails with
"certificate verify failed": a fetcher's swarm gets no peers and falls back to plain HTTP, and a
seeder is never announced. OpenSSL reads `SSL_CERT_FILE` / `SSL_CERT_DIR` when a session starts
(libtorrent loads its default verify paths then, on the thread making the session), so
`openssl_trusting` names the CA file in the environment for just that moment: the rest of the
process (Python's `ssl` defaults, child processes) keeps the host's settings. Not responsible for
choosing the CA bundle (the caller's: the one its HTTP client trusts).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

OPENSSL_CA_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR")


def ca_environment(ca_file: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The variables to add to `environ` so that libtorrent trusts the certificates in `ca_file`;
    none when `environ` already names a CA file or directory (the host's choice wins)."""
    if any(environ.get(name) for name in OPENSSL_CA_VARIABLES):
        return {}
    return {"SSL_CERT_FILE": ca_file}


@contextmanager
def openssl_trusting(ca_file: str | None) -> Iterator[None]:
    """While the block runs, the process environment names `ca_file` to OpenSSL (nothing when
    None, or when the environment names a CA already); as it was again afterwards."""
    added = ca_environment(ca_file, os.environ) if ca_file is not None else {}
    os.environ.update(added)
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)
