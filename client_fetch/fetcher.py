"""The fetcher: signed manifest → host cache → sources in order → one verifier → one promoter.

Not responsible for choosing sources (the `SourcePlanner` orders them per manifest) nor for how a
source moves bytes. It owns the rules every source shares:
- a cache hit by digest costs nothing, whatever name it was cached under;
- one download per digest across processes (the cache's single-flight lock); waiters reuse it;
- a source that fails with `SourceUnavailable` keeps its bytes in the partial file for the next;
- content that does not verify is discarded, the source that delivered it is not asked again,
  and the next source is tried; integrity failures are never swallowed: if nothing verifies,
  `VerificationFailed` is raised;
- passes over the sources are separated by bounded randomised exponential backoff.

Errors: `ImageNotFound`, `VerificationFailed`, `AllSourcesFailed`, `CacheError` (OSError from the
cache or the partial file, e.g. disk full, and a `CacheError` a source met in the cache: it is the
host's problem, not the source's, so no other source is tried), `UsageError` a source met
(configuration no other source or retry fixes: a CA bundle holding no certificate), `InvalidName`
for a bad task id. Nothing else escapes except bugs.
"""

from __future__ import annotations

import errno
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from client_fetch.backoff import Backoff
from client_fetch.cache import HostCache, validate_task
from client_fetch.errors import (
    AllSourcesFailed,
    CacheError,
    ImageNotFound,
    SourceUnavailable,
    UsageError,
    VerificationFailed,
)
from client_fetch.fetch_result import FetchResult
from client_fetch.manifest_client import ManifestClient
from client_fetch.partial_file import PartialFile
from client_fetch.planner import Plan, SourcePlanner
from client_fetch.progress import Progress
from client_fetch.sources.base import FetchReport, ImageSource
from client_fetch.verifier import verify_partial
from image_format.errors import DigestMismatch, SizeMismatch
from image_format.manifest import Manifest
from image_format.names import ImageRef

ProgressFactory = Callable[[str, int], Progress]


@dataclass(frozen=True)
class FetchPolicy:
    """Retry and waiting bounds."""

    rounds: int = 3
    lock_timeout_seconds: float = 6 * 3600.0


class Fetcher:
    """Gets one verified image version into the host cache."""

    def __init__(
        self,
        cache: HostCache,
        manifests: ManifestClient,
        planner: SourcePlanner,
        backoff: Backoff,
        policy: FetchPolicy,
        progress_factory: ProgressFactory,
    ) -> None:
        self._cache = cache
        self._manifests = manifests
        self._planner = planner
        self._backoff = backoff
        self._policy = policy
        self._progress_factory = progress_factory

    def get(self, ref: ImageRef, *, pin_task: str | None = None) -> FetchResult:
        """Raises `InvalidName` for a bad `pin_task` before anything is asked or moved."""
        started = time.monotonic()
        if pin_task is not None:
            validate_task(pin_task)
        signed = self._manifests.get(ref)
        manifest = signed.manifest
        digest = manifest.sha256
        report, method = FetchReport(), "cache"
        try:
            path = self._claim_cached(manifest, pin_task)
            if path is None:
                with self._cache.single_flight(digest, self._policy.lock_timeout_seconds):
                    path = self._cache.lookup(digest, manifest.size)
                    if path is None:
                        path, report, method = self._download(manifest)
                    if pin_task is not None:
                        self._cache.pin(digest, pin_task)
            self._cache.record_manifest(manifest.name, manifest.version, signed.envelope)
            over_quota = 0
            if method != "cache":
                quota = self._cache.enforce_quota(keep={digest})
                if quota.exceeded and quota.quota_bytes is not None:
                    over_quota = quota.usage_after - quota.quota_bytes
        except OSError as exc:
            raise _cache_error(self._cache, exc) from exc
        return FetchResult(
            path=path,
            name=manifest.name,
            version=manifest.version,
            digest=digest,
            size=manifest.size,
            method=method,
            bytes_downloaded=report.total,
            bytes_by_source=dict(report.bytes_by_source),
            seconds=time.monotonic() - started,
            hash_failures=report.hash_failures,
            over_quota_bytes=over_quota,
        )

    def plan(self, ref: ImageRef) -> tuple[Manifest, Plan | None]:
        """The verified manifest and the plan a get would follow (None: it is cached)."""
        manifest = self._manifests.get(ref).manifest
        try:
            hit = self._cache.lookup(manifest.sha256, manifest.size)
        except OSError as exc:
            raise _cache_error(self._cache, exc) from exc
        if hit is not None:
            return manifest, None
        return manifest, self._planner.plan(manifest)

    def _claim_cached(self, manifest: Manifest, pin_task: str | None) -> Path | None:
        """A hit by digest (pinned under the cache's lock when a task is named), else None."""
        if pin_task is None:
            return self._cache.lookup(manifest.sha256, manifest.size)
        return self._cache.claim(
            manifest.sha256,
            manifest.size,
            pin_task,
            timeout_seconds=self._policy.lock_timeout_seconds,
        )

    def _download(self, manifest: Manifest) -> tuple[Path, FetchReport, str]:
        """Under the digest's lock: sources → verifier → promoter."""
        progress = self._progress_factory(manifest.ref, manifest.size)
        report, method = self._fetch_with_fallback(manifest, progress)
        path = self._cache.promote(manifest.sha256, self._cache.partial_path(manifest.sha256))
        progress.finish()
        return path, report, method

    def _fetch_with_fallback(
        self, manifest: Manifest, progress: Progress
    ) -> tuple[FetchReport, str]:
        report = FetchReport()
        sources = self._planner.plan(manifest).sources
        failures: list[str] = []
        corrupt: list[str] = []
        not_found: set[str] = set()
        distrusted: set[str] = set()
        scattered = False  # an out-of-order source left pieces an appending source cannot use
        for round_index in range(self._policy.rounds):
            if round_index:
                self._backoff.wait(round_index - 1)
            transient = False
            for source in sources:
                if source.name in not_found or source.name in distrusted:
                    continue
                if source.writes_in_order and scattered:
                    self._cache.discard_partial(manifest.sha256)
                scattered = not source.writes_in_order
                outcome = self._attempt(source, manifest, progress, report)
                if outcome is None:
                    return report, source.method
                kind, message = outcome
                print(f"client-fetch: {message}; trying the next source", file=sys.stderr)
                if kind == "corrupt":
                    distrusted.add(source.name)
                    corrupt.append(message)
                elif kind == "not_found":
                    not_found.add(source.name)
                    failures.append(message)
                else:
                    transient = True
                    failures.append(message)
            if not transient:
                break
        if corrupt:
            raise VerificationFailed(manifest.ref, "; ".join(corrupt + failures))
        if sources and {source.name for source in sources} <= not_found:
            raise ImageNotFound(manifest.ref)
        raise AllSourcesFailed(manifest.ref, failures or ["no source can serve it"])

    def _attempt(
        self, source: ImageSource, manifest: Manifest, progress: Progress, report: FetchReport
    ) -> tuple[str, str] | None:
        """One try of one source: None on a verified file, else (kind, message)."""
        path = self._cache.partial_path(manifest.sha256)
        for _ in range(2):
            partial = PartialFile(path)
            with partial:
                if source.writes_in_order:
                    resumed_from = partial.open_for_append(manifest.size)
                else:
                    resumed_from = partial.open_unordered(manifest.size)
                progress.set_done(resumed_from)
                try:
                    source.fetch(manifest, partial, progress, report)
                except SourceUnavailable as exc:
                    return ("not_found" if exc.not_found else "transient", str(exc))
                except CacheError:
                    raise  # the cache a source uses (a base's lock, disk full) is the host's
                except UsageError:
                    raise  # configuration no retry fixes (a CA bundle that holds no certificate)
                except OSError as exc:
                    raise _cache_error(self._cache, exc) from exc
                except Exception as exc:  # a source's bug must not stop the others
                    print(f"client-fetch: {source.name} failed: {exc!r}", file=sys.stderr)
                    return ("transient", f"{source.name}: unexpected error {exc!r}")
            try:
                verify_partial(manifest, partial, progress)
            except (DigestMismatch, SizeMismatch) as exc:
                self._cache.discard_partial(manifest.sha256)
                if resumed_from:
                    continue  # the prefix came from an earlier run: retry this source cleanly
                return ("corrupt", f"{source.name}: {exc}")
            return None
        return ("corrupt", f"{source.name}: content did not verify, even from the start")


def _cache_error(cache: HostCache, exc: OSError) -> CacheError:
    reason = "disk full" if exc.errno == errno.ENOSPC else str(exc)
    return CacheError(str(cache.root), reason)
