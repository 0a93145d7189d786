"""Chunks from one distributor or mirror over HTTP: `GET /v1/chunks/sha256/<id>` (zstd frame).

Errors: 404 → `ChunkMissing`; transport errors, stalls and other statuses → `ChunkUnavailable`;
bytes that do not decompress to the id → `ChunkCorrupt` (from image_format), counted in
`hash_failures`. httpx is thread-safe, so one store serves the chunked source's parallel requests.
"""

from __future__ import annotations

import httpx

from client_fetch.chunkstores.base import ChunkMissing, ChunkUnavailable
from image_format.chunks import ChunkCorrupt, decompress_chunk
from image_format.content_paths import chunk_path

MAX_COMPRESSED_OVERHEAD = 1 << 16


class HttpChunkStore:
    """One server's chunk URLs; counts the compressed bytes it moved and the corrupt answers."""

    def __init__(self, server_url: str, client: httpx.Client) -> None:
        self.server_url = server_url.rstrip("/")
        self._client = client
        self.bytes_moved = 0
        self.hash_failures = 0

    @property
    def name(self) -> str:
        return self.server_url

    def get(self, chunk_id: str, size: int) -> bytes:
        url = self.server_url + chunk_path(chunk_id)
        try:
            response = self._client.get(url)
        except httpx.HTTPError as exc:
            raise ChunkUnavailable(chunk_id, f"{self.server_url}: {exc!r}") from exc
        if response.status_code == 404:
            raise ChunkMissing(chunk_id, f"{self.server_url} has no such chunk")
        if response.status_code != 200:
            raise ChunkUnavailable(chunk_id, f"{self.server_url}: HTTP {response.status_code}")
        compressed = response.content
        self.bytes_moved += len(compressed)
        try:
            return decompress_chunk(compressed, chunk_id, size)
        except ChunkCorrupt:
            self.hash_failures += 1
            raise

    def has(self, chunk_id: str) -> bool:
        return True  # optimistic: asking costs a request; get() says the truth
