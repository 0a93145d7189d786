"""Route templates derived from `image_format.content_paths`, so server and client cannot drift.

Each template is the shared path function applied to a sample value, with the sample replaced by
the FastAPI placeholder.
"""

from __future__ import annotations

from image_format import content_paths
from image_format.chunks.packs import pack_path

_NAME, _VERSION, _DIGEST = "SAMPLENAME", "SAMPLEVERSION", "0" * 64


def _template(path: str) -> str:
    return path.replace(_NAME, "{name}").replace(_VERSION, "{version}").replace(_DIGEST, "{digest}")


IMAGES = content_paths.images_path()
IMAGE = _template(content_paths.image_path(_NAME))
LATEST_MANIFEST = _template(content_paths.latest_manifest_path(_NAME))
VERSION = _template(content_paths.version_path(_NAME, _VERSION))
MANIFEST = _template(content_paths.manifest_path(_NAME, _VERSION))
BLOB = _template(content_paths.blob_path(_DIGEST))
CHUNK = _template(content_paths.chunk_path(_DIGEST))
PACK = _template(pack_path(_DIGEST))
TORRENT = _template(content_paths.torrent_path(_DIGEST))
ORIGIN_STATS = f"{content_paths.API_PREFIX}/stats/origin"
HEALTH = "/health"
READINESS = "/readiness"
