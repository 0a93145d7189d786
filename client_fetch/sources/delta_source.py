"""A delta: a cached older version plus a block-level patch makes the new image.

Of the manifest's deltas, the one whose base is in the host cache with the smallest patch is
used. The patch is fetched through the swarm when its own swarm has a seeder (a release to many
hosts then does not push every patch through the origin), else over HTTP from each server in
turn; its sha256 is checked against the signed manifest before it is applied. Its header is read
next: a patch that says it makes another size or digest than the signed manifest's, or starts
from another base than the cached one, is refused before anything is applied (a signed but
hostile header cannot make apply write or hash more than the image). The base is pinned while
the patch applies, bound to this process (`cache.pins`), so quota eviction cannot remove it and
a fetch killed meanwhile leaves no pin behind. Apply checks the base's digest first and the
result's after (hashing what it writes); that result digest is the manifest's, so the source
records it and the fetcher's verifier takes it, as it takes HTTP's running digest.

Not responsible for choosing itself over other sources (the planner does). Errors:
`SourceUnavailable` when no delta has a cached base, or the patch cannot be had, does not match,
or does not apply (a corrupt or truncated patch, a header for another image or base, anything
apply raises but OSError): the fetcher then falls back; `CacheError` from the cache (the base's
lock not had within `lock_timeout_seconds`, disk full) and OSError propagate.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from client_fetch.cache import DEFAULT_LOCK_TIMEOUT_SECONDS, HostCache
from client_fetch.errors import SourceUnavailable
from client_fetch.partial_file import PartialFile
from client_fetch.progress import Progress
from client_fetch.sources.base import Estimate, FetchReport
from client_fetch.sources.http_source import HttpSource
from client_fetch.sources.swarm_source import SwarmSource
from client_fetch.tracker_scrape import SwarmCounts
from client_fetch.verifier import verify_file
from image_format.errors import DigestMismatch, SizeMismatch
from image_format.manifest import DeltaRef, Manifest, TorrentRef

if TYPE_CHECKING:
    from image_format.delta import DeltaHeader


@dataclass(frozen=True)
class _Choice:
    delta: DeltaRef
    base_size: int


class _PatchRefused(Exception):
    """The patch cannot make this image from this base; `damaged_base`: the base's fault."""

    def __init__(self, reason: str, *, damaged_base: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.damaged_base = damaged_base


class DeltaSource:
    """Applies the cheapest usable patch to its cached base."""

    method = "delta"
    writes_in_order = False

    def __init__(
        self,
        cache: HostCache,
        http_sources: Sequence[HttpSource],
        swarm: SwarmSource | None,
        scrape: Callable[[TorrentRef], SwarmCounts | None],
        *,
        lock_timeout_seconds: float = DEFAULT_LOCK_TIMEOUT_SECONDS,
    ) -> None:
        self._cache = cache
        self._http = list(http_sources)
        self._swarm = swarm
        self._scrape = scrape
        self._lock_timeout_seconds = lock_timeout_seconds

    @property
    def name(self) -> str:
        return "delta"

    def _choose(self, manifest: Manifest) -> _Choice:
        cached = {entry.digest: entry.size for entry in self._cache.entries()}
        usable = [
            _Choice(delta, cached[delta.from_sha256])
            for delta in manifest.deltas
            if delta.from_sha256 in cached
        ]
        if not usable:
            raise SourceUnavailable(self.name, "no delta starts from a cached version")
        return min(usable, key=lambda choice: choice.delta.size)

    def estimate(self, manifest: Manifest, resume_offset: int) -> Estimate:
        choice = self._choose(manifest)
        delta = choice.delta
        where = f"patch from {delta.from_version} (cached), {self._patch_route(delta)}"
        return Estimate(
            f"delta from {delta.from_version}",
            self.method,
            delta.size,
            where,
            local_bytes=choice.base_size,
        )

    def _patch_route(self, delta: DeltaRef) -> str:
        if self._swarm is not None and delta.torrent is not None:
            counts = self._scrape(delta.torrent)
            if counts is not None and counts.complete > 0:
                return "swarm"
        return "http"

    def fetch(
        self, manifest: Manifest, partial: PartialFile, progress: Progress, report: FetchReport
    ) -> None:
        choice = self._choose(manifest)
        delta = choice.delta
        task = f"delta-{os.getpid()}"
        base = self._cache.claim(
            delta.from_sha256,
            choice.base_size,
            task,
            timeout_seconds=self._lock_timeout_seconds,
            process_bound=True,
        )
        if base is None:
            raise SourceUnavailable(self.name, f"base {delta.from_version} left the cache")
        damaged_base = False
        try:
            patch = self._fetch_patch(delta, progress, report)
            try:
                self._apply(base, patch, partial.path, manifest, choice)
            except _PatchRefused as exc:
                damaged_base = exc.damaged_base
                self._cache.discard_partial(delta.sha256)
                raise SourceUnavailable(self.name, exc.reason) from exc
            self._cache.discard_partial(delta.sha256)
            # apply_delta hashed every byte it wrote and matched the header's digest, which is
            # the manifest's (checked before applying): the verifier need not read the image
            # again (as for bytes appended by HTTP).
            partial.record_checked_digest(manifest.sha256)
        finally:
            self._cache.unpin(task, delta.from_sha256)
            if damaged_base:
                # The cached base no longer hashes to its name: quarantine it (the cache-hit fast
                # path checks sizes only), so no task is ever handed the damaged file.
                self._cache.verify([delta.from_sha256])

    def _apply(
        self, base: Path, patch: Path, out: Path, manifest: Manifest, choice: _Choice
    ) -> DeltaHeader:
        """Check the patch's header against the signed manifest and the base, then apply it.

        Raises `_PatchRefused` for any patch that cannot make this image (whatever apply
        raises, but OSError, which propagates: a local file problem, not the patch's)."""
        # The patch format loads only when a patch is applied: every `get --via auto` builds and
        # asks this source, few use it.
        from image_format.delta import DeltaBaseMismatch, apply_delta, read_header

        with patch.open("rb") as handle:
            try:
                mismatch = _header_mismatch(read_header(handle), manifest, choice)
                if mismatch is not None:
                    raise _PatchRefused(f"patch refused before applying: {mismatch}")
                handle.seek(0)
                return apply_delta(base, handle, out, expected_old_sha256=choice.delta.from_sha256)
            except (OSError, _PatchRefused):
                raise
            except Exception as exc:  # DeltaError, and whatever else a bad patch makes it raise
                raise _PatchRefused(
                    f"patch does not apply: {str(exc) or repr(exc)}",
                    damaged_base=isinstance(exc, DeltaBaseMismatch),
                ) from exc

    def _fetch_patch(self, delta: DeltaRef, progress: Progress, report: FetchReport) -> Path:
        """The verified patch file, in the cache's downloads/ as a partial of its digest."""
        path = self._cache.partial_path(delta.sha256)
        problems: list[str] = []
        if self._patch_route(delta) == "swarm" and self._swarm is not None and delta.torrent:
            try:
                self._swarm.fetch_file(delta.torrent, delta.sha256, path, progress, report)
                verify_file(f"patch {delta.sha256[:12]}", path, delta.sha256, delta.size)
                return path
            except (SourceUnavailable, DigestMismatch, SizeMismatch) as exc:
                problems.append(f"swarm: {exc}")
                self._cache.discard_partial(delta.sha256)
        for source in self._http:
            patch = PartialFile(path)
            with patch:
                patch.open_for_append(delta.size)
                try:
                    source.fetch_blob(delta.sha256, delta.size, patch, progress, report)
                except SourceUnavailable as exc:
                    problems.append(str(exc))
                    continue
            if patch.running_digest() == delta.sha256 and path.stat().st_size == delta.size:
                return path
            problems.append(f"{source.name}: the patch does not match the signed manifest")
            self._cache.discard_partial(delta.sha256)
        # A prefix one server left is resumed by the next one above; once every server failed it
        # would only sit in downloads/ against the quota, whatever source delivers the image.
        self._cache.discard_partial(delta.sha256)
        raise SourceUnavailable(self.name, "no patch: " + "; ".join(problems))


def _header_mismatch(header: DeltaHeader, manifest: Manifest, choice: _Choice) -> str | None:
    """How the patch's header disagrees with the signed manifest and the chosen base, or None."""
    base = choice.delta.from_sha256
    if header.new_size != manifest.size:
        return f"it makes {header.new_size} bytes, the signed manifest says {manifest.size}"
    if header.new_sha256 != manifest.sha256:
        return (
            f"it makes sha256:{header.new_sha256[:12]}, "
            f"the signed manifest names sha256:{manifest.sha256[:12]}"
        )
    if header.old_sha256 != base:
        return f"it applies to sha256:{header.old_sha256[:12]}, not the base sha256:{base[:12]}"
    if header.old_size != choice.base_size:
        return f"its base has {header.old_size} bytes, the cached base {choice.base_size}"
    return None
