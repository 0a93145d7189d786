"""The cache-hit fast path of `get NAME@VERSION --cache DIR --key KEY`: no pydantic, no httpx.

A whole process answering a hit must take well under 150 ms, and importing pydantic alone costs
about 100 ms. So for an explicit version and an explicit cache, the cached signed envelope is
re-verified with `image_format.envelope` (the trusted keys given now, not those of whoever cached
it) and the image's presence and size are checked; the full hash is `cache verify`'s job.
It runs only when version, cache and key are all given as flags (flags win over the environment,
so no settings need loading). Anything unusual (key unreadable, no record, signature or expiry
failing) returns None, and the ordinary path, which reports errors properly, takes over.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from client_fetch.cache import HostCache
from client_fetch.fetch_result import FetchResult
from image_format.envelope import load_public_keys, verify_envelope
from image_format.errors import ImageFormatError
from image_format.timestamps import parse_utc_timestamp


def _not_expired(document: dict[str, object]) -> bool:
    expires = document.get("expires")
    if expires is None:
        return True
    try:
        moment = parse_utc_timestamp(str(expires))
    except ValueError:
        return False
    return moment > datetime.now(UTC)


def try_cache_hit(
    cache_dir: Path, name: str, version: str, key: str, pin_task: str | None
) -> FetchResult | None:
    if not cache_dir.is_dir():
        return None
    cache = HostCache(cache_dir)
    cached = cache.lookup_ref(name, version)
    if cached is None:
        return None
    try:
        document = verify_envelope(cached.manifest_bytes, load_public_keys(key))
    except ImageFormatError:
        return None
    if (
        document.get("name") != name
        or document.get("version") != version
        or document.get("sha256") != cached.digest
        or not _not_expired(document)
    ):
        return None
    path: Path | None = cached.path
    if pin_task is not None:
        path = cache.claim(cached.digest, cached.size, pin_task)
    if path is None:
        return None
    return FetchResult(
        path=path,
        name=name,
        version=version,
        digest=cached.digest,
        size=cached.size,
        method="cache",
    )
