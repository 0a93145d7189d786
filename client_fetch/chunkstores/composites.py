"""Stores made of stores: a router, a caching wrapper, a failover group of identical mirrors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from client_fetch.chunkstores.base import ChunkMissing, ChunkStore, ChunkUnavailable
from image_format.chunks import ChunkCorrupt


class WritableChunkStore(ChunkStore, Protocol):
    def put(self, chunk_id: str, data: bytes) -> None: ...


class RouterStore:
    """Asks each store in order; the next only when one says `ChunkMissing`.

    A real error (`ChunkUnavailable`, `ChunkCorrupt`) stops the search: it is not "missing".
    """

    def __init__(self, stores: Sequence[ChunkStore]) -> None:
        self._stores = list(stores)

    @property
    def name(self) -> str:
        return "router(" + ", ".join(store.name for store in self._stores) + ")"

    def get(self, chunk_id: str, size: int) -> bytes:
        for store in self._stores:
            try:
                return store.get(chunk_id, size)
            except ChunkMissing:
                continue
        raise ChunkMissing(chunk_id, f"in none of {self.name}")

    def has(self, chunk_id: str) -> bool:
        return any(store.has(chunk_id) for store in self._stores)


class FailoverGroup:
    """Identical mirrors as one store: any failure of one mirror moves on to the next.

    A corrupt chunk from one mirror is fetched from another; the group fails only when every
    mirror failed (`ChunkMissing` if all said missing, else `ChunkUnavailable` with each reason).
    """

    def __init__(self, mirrors: Sequence[ChunkStore]) -> None:
        self._mirrors = list(mirrors)

    @property
    def name(self) -> str:
        return "mirrors(" + ", ".join(mirror.name for mirror in self._mirrors) + ")"

    def get(self, chunk_id: str, size: int) -> bytes:
        reasons: list[str] = []
        missing = 0
        for mirror in self._mirrors:
            try:
                return mirror.get(chunk_id, size)
            except ChunkMissing as exc:
                missing += 1
                reasons.append(f"{mirror.name}: {exc.reason}")
            except (ChunkUnavailable, ChunkCorrupt) as exc:
                reasons.append(f"{mirror.name}: {exc}")
        if missing == len(self._mirrors):
            raise ChunkMissing(chunk_id, "; ".join(reasons) or "no mirror")
        raise ChunkUnavailable(chunk_id, "; ".join(reasons))

    def has(self, chunk_id: str) -> bool:
        return any(mirror.has(chunk_id) for mirror in self._mirrors)


class CachingStore:
    """A local store in front of a remote one: hits are local, misses are fetched and kept.

    A corrupt local copy counts as missing (and is replaced).
    """

    def __init__(self, local: WritableChunkStore, remote: ChunkStore) -> None:
        self._local = local
        self._remote = remote

    @property
    def name(self) -> str:
        return f"cache({self._local.name} <- {self._remote.name})"

    def get(self, chunk_id: str, size: int) -> bytes:
        try:
            return self._local.get(chunk_id, size)
        except (ChunkMissing, ChunkCorrupt):
            pass
        data = self._remote.get(chunk_id, size)
        self._local.put(chunk_id, data)
        return data

    def has(self, chunk_id: str) -> bool:
        return self._local.has(chunk_id) or self._remote.has(chunk_id)
