"""What `client-fetch get` tells its caller: where the verified image is and how it got there."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class FetchResult:
    """One successful get. `method` is "cache" for a hit, else the source kind that delivered.
    `over_quota_bytes` > 0: after the fetch the cache is that far over its quota, with nothing
    left it may evict (images in use, pinned, or this one)."""

    path: Path
    name: str
    version: str
    digest: str
    size: int
    method: str
    bytes_downloaded: int = 0
    bytes_by_source: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    hash_failures: int = 0
    over_quota_bytes: int = 0
    placed_at: Path | None = None

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "path": str(self.placed_at or self.path),
            "cache_path": str(self.path),
            "name": self.name,
            "version": self.version,
            "digest": self.digest,
            "size": self.size,
            "method": self.method,
            "bytes_downloaded": self.bytes_downloaded,
            "bytes_by_source": dict(self.bytes_by_source),
            "seconds": round(self.seconds, 3),
            "hash_failures": self.hash_failures,
            "over_quota_bytes": self.over_quota_bytes,
        }
        return document
