"""Gets a signed manifest from the first server that has a trustworthy one.

A mirror that serves a tampered or foreign manifest can only waste a request: its answer is
recorded and the next server is asked. Passes over the server list are separated by a bounded,
randomised exponential backoff.

Errors: `ImageNotFound` when every server answered 404; `VerificationFailed` when at least one
server answered and no answer verified (each reason listed); `AllSourcesFailed` when no server could
be reached; `UsageError` for a server URL httpx cannot parse. httpx and image_format errors are
translated here and never escape.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from client_fetch.backoff import Backoff
from client_fetch.errors import (
    AllSourcesFailed,
    ImageNotFound,
    UsageError,
    VerificationFailed,
)
from image_format.content_paths import latest_manifest_path, manifest_path
from image_format.errors import ManifestError
from image_format.manifest import Manifest
from image_format.names import ImageRef
from image_format.signing import PublicKey, check_manifest_identity, verify_signed_manifest

MAX_MANIFEST_BYTES = 4 << 20


@dataclass(frozen=True)
class SignedManifest:
    """A verified manifest with the exact envelope bytes it came in (what the cache records)."""

    manifest: Manifest
    envelope: bytes
    server_url: str


class ManifestClient:
    """Fetches and verifies manifests; not responsible for the content they describe."""

    def __init__(
        self,
        client: httpx.Client,
        servers: Sequence[str],
        keys: Sequence[PublicKey],
        backoff: Backoff,
        rounds: int,
    ) -> None:
        self._client = client
        self._servers = list(dict.fromkeys(servers))  # each once: all 404 means "not found"
        self._keys = list(keys)
        self._backoff = backoff
        self._rounds = rounds

    def get(self, ref: ImageRef) -> SignedManifest:
        path = (
            manifest_path(ref.name, ref.version) if ref.version else latest_manifest_path(ref.name)
        )
        not_found: set[str] = set()
        rejected: dict[str, str] = {}
        failures: list[str] = []
        for round_index in range(self._rounds):
            if round_index:
                self._backoff.wait(round_index - 1)
            transient = False
            for server in self._servers:
                if server in not_found or server in rejected:
                    continue
                try:
                    response = self._client.get(server + path)
                except httpx.InvalidURL as exc:  # not an HTTPError: no request was made
                    raise UsageError(f"server URL {server!r} is not a valid URL: {exc}") from exc
                except httpx.HTTPError as exc:
                    failures.append(f"{server}: {exc!r}")
                    transient = True
                    continue
                if response.status_code == 404:
                    not_found.add(server)
                    continue
                if response.status_code != 200:
                    failures.append(f"{server}: HTTP {response.status_code}")
                    transient = True
                    continue
                if len(response.content) > MAX_MANIFEST_BYTES:
                    rejected[server] = f"manifest larger than {MAX_MANIFEST_BYTES} bytes"
                    continue
                try:
                    manifest = verify_signed_manifest(response.content, self._keys)
                    check_manifest_identity(manifest, ref.name, ref.version)
                except ManifestError as exc:
                    rejected[server] = str(exc)
                    continue
                return SignedManifest(manifest, response.content, server)
            if not transient:
                break
        if rejected:
            reasons = "; ".join(f"{server}: {why}" for server, why in rejected.items())
            raise VerificationFailed(str(ref), reasons)
        if len(not_found) == len(self._servers):
            raise ImageNotFound(str(ref))
        raise AllSourcesFailed(str(ref), failures + [f"{s}: 404" for s in sorted(not_found)])
