"""`DeltaPublishStep`: patches from the previous K versions of NAME to the new one, as blobs.

For each of the `from_versions` most recent earlier versions of the same name (newest first) it
streams `image_format.delta.make_delta` from the stored base blob to the new blob into a blob
writer, keeps the patch as a content-addressed blob (served by `GET /v1/blobs/sha256/<digest>`
like any blob: Range, immutable caching) and, when a torrent step is configured, makes the patch's
own torrent so the swarm carries it. It returns `{"deltas": [DeltaRef fields, ...]}`.

Skipped, by rule: a base with the same sha256 as the new version (the fetcher's cached source
already covers it), a base whose blob is not in the store, a new version smaller than
`min_image_bytes` (whole-image transfer is cheap), and a patch larger than `max_ratio` (0.9) of
the new image's size (not worth offering over the image itself; the patch blob is then not kept).

Not responsible for signing or recording (the publisher) nor for serving. Runs after the new blob
is committed. Error contract: `StorageError` when a blob cannot be read or written or a stored
base does not hash to its digest; `TorrentsUnavailable` from the torrent step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from distributor.catalog.base import Catalog, VersionRecord
from distributor.errors import StorageError
from distributor.publishing import PublishContext, PublishStep
from distributor.settings import DistributorSettings
from distributor.storage.blob_store import BlobWriter, LocalBlobStore
from distributor.torrents.publish_step import TorrentPublishStep
from image_format.delta import (
    DEFAULT_LITERAL_LEVEL,
    DEFAULT_WINDOW_LOG,
    DeltaInputChanged,
    make_delta,
)

MIN_IMAGE_BYTES = 64 << 10
MAX_PATCH_RATIO = 0.9


class _BlobSink:
    """`make_delta`'s sink over a blob writer."""

    def __init__(self, writer: BlobWriter) -> None:
        self._writer = writer

    def write(self, data: bytes) -> int:
        self._writer.write(data)
        return len(data)


class DeltaPublishStep:
    """Makes, stores and names the patches from earlier versions (see the module docstring)."""

    def __init__(
        self,
        catalog: Catalog,
        blobs: LocalBlobStore,
        *,
        from_versions: int,
        level: int,
        literal_level: int = DEFAULT_LITERAL_LEVEL,
        window_log: int = DEFAULT_WINDOW_LOG,
        torrent_step: TorrentPublishStep | None = None,
        min_image_bytes: int = MIN_IMAGE_BYTES,
        max_ratio: float = MAX_PATCH_RATIO,
    ) -> None:
        self._catalog = catalog
        self._blobs = blobs
        self._from_versions = from_versions
        self._level = level
        self._literal_level = literal_level
        self._window_log = window_log
        self._torrents = torrent_step
        self._min_image_bytes = min_image_bytes
        self._max_ratio = max_ratio

    def bases(self, context: PublishContext) -> list[VersionRecord]:
        """The earlier versions to patch from, newest first, before the skip rules on blobs."""
        if self._from_versions <= 0 or context.size < self._min_image_bytes:
            return []
        earlier = [
            record
            for record in self._catalog.list_versions(context.name)
            if record.version != context.version
        ]
        return list(reversed(earlier[-self._from_versions :]))

    def __call__(self, context: PublishContext) -> Mapping[str, Any]:
        refs = []
        for base in self.bases(context):
            if base.sha256 == context.sha256 or not self._blobs.exists(base.sha256):
                continue
            ref = self._patch(base, context)
            if ref is not None:
                refs.append(ref)
        return {"deltas": refs} if refs else {}

    def _patch(self, base: VersionRecord, context: PublishContext) -> dict[str, Any] | None:
        base_path = self._blobs.path(base.sha256)
        writer = self._blobs.writer()
        try:
            make_delta(
                base_path,
                context.blob_path,
                _BlobSink(writer),
                level=self._level,
                literal_level=self._literal_level,
                window_log=self._window_log,
                old_sha256=base.sha256,
                new_sha256=context.sha256,
            )
        except DeltaInputChanged as exc:
            writer.abort()
            raise StorageError(str(base_path), f"stored blob is damaged: {exc}") from exc
        except OSError as exc:
            writer.abort()
            raise StorageError(str(base_path), f"cannot make a delta patch: {exc}") from exc
        except BaseException:
            writer.abort()
            raise
        staged = writer.finish()
        if staged.size > self._max_ratio * context.size:
            staged.discard()
            return None
        patch_path = staged.commit()
        ref: dict[str, Any] = {
            "from_version": base.version,
            "from_sha256": base.sha256,
            "sha256": staged.digest,
            "size": staged.size,
        }
        if self._torrents is not None:
            name = patch_torrent_name(context.name, base.version, context.version, staged.digest)
            torrent = self._torrents.torrent_ref(patch_path, staged.digest, staged.size, name)
            if torrent is not None:
                ref["torrent"] = torrent
        return ref


def with_delta_step(
    settings: DistributorSettings,
    catalog: Catalog,
    blobs: LocalBlobStore,
    steps: Sequence[PublishStep],
) -> list[PublishStep]:
    """`steps` plus the delta step the settings ask for; it reuses a torrent step among `steps`."""
    if settings.delta_from_versions <= 0:
        return list(steps)
    torrent_step = next((s for s in steps if isinstance(s, TorrentPublishStep)), None)
    step = DeltaPublishStep(
        catalog,
        blobs,
        from_versions=settings.delta_from_versions,
        level=settings.delta_zstd_level,
        literal_level=settings.delta_literal_zstd_level,
        torrent_step=torrent_step,
    )
    return [*steps, step]


__all__ = ["DeltaPublishStep", "with_delta_step"]


def patch_torrent_name(name: str, from_version: str, version: str, digest: str) -> str:
    """`NAME-FROM-to-VERSION.delta`; when that is over a file name's 255 bytes (long names and
    versions), `NAME-VERSION-<digest prefix>.delta`, which always fits."""
    full = f"{name}-{from_version}-to-{version}.delta"
    return full if len(full.encode()) <= 255 else f"{name}-{version}-{digest[:16]}.delta"
