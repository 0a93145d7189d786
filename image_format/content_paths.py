"""The content layout server and client agree on: HTTP paths and content-addressed disk paths.

Content-addressed URLs (`/v1/blobs/sha256/<digest>`) never change meaning, so they are served with
`Cache-Control: public, max-age=31536000, immutable` and cached by proxies and CDNs. Manifests and
listings are mutable (a new version appears), so they are not.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from image_format.digest import validate_digest
from image_format.names import validate_name, validate_version

API_PREFIX = "/v1"
IMMUTABLE_CACHE_CONTROL = "public, max-age=31536000, immutable"
MANIFEST_MEDIA_TYPE = "application/vnd.volunteer-image.manifest+json"


def images_path() -> str:
    """GET: every image with its versions."""
    return f"{API_PREFIX}/images"


def image_path(name: str) -> str:
    """GET: one image with its versions."""
    return f"{API_PREFIX}/images/{validate_name(name)}"


def latest_manifest_path(name: str) -> str:
    """GET: the signed manifest of the image's latest version."""
    return f"{image_path(name)}/latest"


def version_path(name: str, version: str) -> str:
    """PUT (admin): publish a version from the request body."""
    return f"{image_path(name)}/versions/{validate_version(version)}"


def manifest_path(name: str, version: str) -> str:
    """GET: the signed manifest of one version."""
    return f"{version_path(name, version)}/manifest"


def blob_path(digest: str) -> str:
    """GET/HEAD: content by sha256 (Range supported, immutable)."""
    return f"{API_PREFIX}/blobs/sha256/{validate_digest(digest)}"


def blob_relpath(digest: str) -> PurePosixPath:
    """Where a blob lives below a content store root: `sha256/ab/abcdef...`."""
    validate_digest(digest)
    return PurePosixPath("sha256", digest[:2], digest)


def torrent_path(digest: str) -> str:
    """GET: a torrent file by the sha256 of its bytes (immutable)."""
    return f"{API_PREFIX}/torrents/sha256/{validate_digest(digest)}"


def torrent_relpath(digest: str) -> PurePosixPath:
    """Where a torrent file lives below the torrent store root."""
    return blob_relpath(digest)


def announce_path() -> str:
    """GET: the BitTorrent tracker's announce (BEP 3/23/7). Scrape is the BEP 48 sibling."""
    return f"{API_PREFIX}/tracker/announce"


def scrape_path() -> str:
    """GET: the tracker's scrape (BEP 48): the announce path with "announce" → "scrape"."""
    return f"{API_PREFIX}/tracker/scrape"


def tracker_instance_path() -> str:
    """GET: `{"tracker_instance": ID}`, new with every start of the tracker, which keeps its peers
    in memory: a volunteer seeding sees it change and announces again at once."""
    return f"{API_PREFIX}/tracker/instance"


def swarm_health_path() -> str:
    """GET: swarm health as JSON, per image version."""
    return f"{API_PREFIX}/swarm/health"


def seeder_report_path(seeder_id: str) -> str:
    """POST (seeder token): a seeder's per-torrent statistics."""
    return f"{API_PREFIX}/swarm/seeders/{validate_name(seeder_id)}/report"


def fetch_report_path() -> str:
    """POST: a host's outcome of one fetch (method, bytes by source kind, hash failures)."""
    return f"{API_PREFIX}/swarm/fetch-reports"


def chunk_path(chunk_id: str) -> str:
    """GET/HEAD: one chunk by the sha256 of its uncompressed bytes; the body is zstd-compressed
    (one frame), immutable."""
    return f"{API_PREFIX}/chunks/sha256/{validate_digest(chunk_id)}"


def chunk_relpath(chunk_id: str) -> PurePosixPath:
    """Where a compressed chunk lives below the chunk store root."""
    return blob_relpath(chunk_id)
