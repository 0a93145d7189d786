"""Chunk indexes of versions, fetched once and kept in the host cache (`<cache>/chunk-indexes/`).

An index is a content-addressed blob: its bytes must hash to the signed manifest's
`chunk_index.sha256`, whoever served them. Donors' indexes come from the manifests recorded for
cached images. Not responsible for chunks themselves. Errors: `SourceUnavailable` (source
"chunk-index") when no server has a matching index; a damaged local copy is fetched again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import httpx

from client_fetch.cache import HostCache
from client_fetch.errors import SourceUnavailable
from client_fetch.verified_fetch import fetch_verified
from image_format.chunks import ChunkIndex, ChunkIndexError
from image_format.content_paths import blob_path
from image_format.digest import validate_digest
from image_format.manifest import ChunkIndexRef

MAX_INDEX_BYTES = 64 << 20


class ChunkIndexes:
    """Get a version's chunk index (local copy first), and list donors with their indexes."""

    def __init__(self, cache: HostCache, client: httpx.Client, servers: Sequence[str]) -> None:
        self._cache = cache
        self._client = client
        self._servers = list(servers)
        self._root = cache.root / "chunk-indexes"

    def get(self, ref: ChunkIndexRef) -> ChunkIndex:
        local = self._root / validate_digest(ref.sha256)
        with contextlib.suppress(OSError, ChunkIndexError):
            data = local.read_bytes()
            if hashlib.sha256(data).hexdigest() == ref.sha256:
                return ChunkIndex.from_bytes(data)
        data = self._download(ref)
        try:
            index = ChunkIndex.from_bytes(data)
        except ChunkIndexError as exc:
            raise SourceUnavailable("chunk-index", f"signed index does not parse: {exc}") from exc
        with contextlib.suppress(OSError):
            self._root.mkdir(parents=True, exist_ok=True)
            tmp = local.with_name(f".{local.name}.tmp-{os.getpid()}")
            tmp.write_bytes(data)
            os.replace(tmp, local)
        return index

    def _download(self, ref: ChunkIndexRef) -> bytes:
        return fetch_verified(
            self._client,
            self._servers,
            blob_path(ref.sha256),
            ref.sha256,
            max_bytes=MAX_INDEX_BYTES,
            what="chunk index",
        )

    def donors(self, exclude: str) -> list[tuple[Path, ChunkIndex]]:
        """Cached images (other than `exclude`) whose recorded manifest names a chunk index."""
        found: list[tuple[Path, ChunkIndex]] = []
        for entry in self._cache.entries():
            if entry.digest == exclude or not entry.refs:
                continue
            name, _, version = entry.refs[0].partition("@")
            cached = self._cache.lookup_ref(name, version, touch=False)
            if cached is None:
                continue
            ref = _chunk_index_ref(cached.manifest_bytes)
            if ref is None:
                continue
            try:
                found.append((cached.path, self.get(ref)))
            except SourceUnavailable:
                continue
        return found


def _chunk_index_ref(envelope: bytes) -> ChunkIndexRef | None:
    """The chunk index named by a cached (already verified) manifest envelope."""
    try:
        signed = json.loads(envelope)["signed"]
        return ChunkIndexRef.model_validate(signed["chunk_index"])
    except (ValueError, KeyError, TypeError):
        return None
