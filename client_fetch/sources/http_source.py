"""Plain HTTP from one distributor or mirror: streamed, resumed with Range, stall-bounded.

Failover across servers is not this class's job: the fetcher tries one `HttpSource` per server in
turn, and because the partial file is content-addressed, bytes one server delivered are a valid
prefix for the next. A server that sends bytes that do not verify is caught by the fetcher's
verifier, not here.

Errors: `SourceUnavailable` for every HTTP or transport failure (404 sets `not_found`), including a
stall (no bytes for `stall_timeout_seconds`, enforced as the read timeout) and a truncated body;
OSError from the partial file propagates.
"""

from __future__ import annotations

from client_fetch.errors import SourceUnavailable
from client_fetch.partial_file import PartialFile
from client_fetch.progress import Progress
from client_fetch.sources.base import Estimate, FetchReport
from client_fetch.sources.blob_connection import (
    BlobResponse,
    BlobTransferError,
    TlsContext,
    content_range_start,
    open_blob,
)
from image_format.content_paths import blob_path
from image_format.manifest import Manifest


class HttpSource:
    """Fetches `/v1/blobs/sha256/<digest>` from `server_url`."""

    method = "http"
    writes_in_order = True

    def __init__(
        self,
        server_url: str,
        *,
        read_bytes: int,
        connect_timeout_seconds: float,
        stall_timeout_seconds: float,
        tls_context: TlsContext,
    ) -> None:
        self.server_url = server_url.rstrip("/")
        self._read_bytes = read_bytes
        self._connect_timeout = connect_timeout_seconds
        self._stall_timeout = stall_timeout_seconds
        self._tls_context = tls_context

    @property
    def name(self) -> str:
        return self.server_url

    def estimate(self, manifest: Manifest, resume_offset: int) -> Estimate:
        return Estimate(
            source=self.name,
            method=self.method,
            bytes_to_move=max(manifest.size - resume_offset, 0),
            from_where=self.server_url,
        )

    def fetch(
        self, manifest: Manifest, partial: PartialFile, progress: Progress, report: FetchReport
    ) -> None:
        self.fetch_blob(manifest.sha256, manifest.size, partial, progress, report)

    def fetch_blob(
        self, digest: str, size: int, partial: PartialFile, progress: Progress, report: FetchReport
    ) -> None:
        """Fill `partial` with the blob `digest` (`size` bytes), resuming from what it holds."""
        if partial.size >= size:
            return
        url = self.server_url + blob_path(digest)
        offset = partial.size
        try:
            response = open_blob(
                url,
                {"Range": f"bytes={offset}-"} if offset else {},
                connect_timeout=self._connect_timeout,
                stall_timeout=self._stall_timeout,
                tls_context=self._tls_context,
            )
        except BlobTransferError as exc:
            raise self._unavailable(exc) from exc
        try:
            self._check_status(response, url, partial, progress)
            self._copy_body(response, size, partial, progress, report)
        finally:
            response.close()
        if partial.size < size:
            raise SourceUnavailable(self.name, f"body ended after {partial.size} of {size} bytes")

    def _unavailable(self, exc: BlobTransferError) -> SourceUnavailable:
        if exc.stalled:
            return SourceUnavailable(self.name, f"stalled: {exc}")
        return SourceUnavailable(self.name, f"transfer failed: {exc}")

    def _check_status(
        self, response: BlobResponse, url: str, partial: PartialFile, progress: Progress
    ) -> None:
        status = response.status
        if status == 404:
            raise SourceUnavailable(self.name, "404: the server has no such blob", not_found=True)
        if status == 206:
            if content_range_start(response.headers.get("Content-Range")) != partial.size:
                raise SourceUnavailable(self.name, "206 for another range than requested")
        elif status == 200:
            if partial.size:
                partial.restart()
                progress.set_done(0)
        else:
            raise SourceUnavailable(self.name, f"HTTP {status} for {url}")

    def _copy_body(
        self,
        response: BlobResponse,
        size: int,
        partial: PartialFile,
        progress: Progress,
        report: FetchReport,
    ) -> None:
        while partial.size < size:
            try:
                block = response.read(self._read_bytes)
            except BlobTransferError as exc:
                if exc.stalled:
                    raise self._unavailable(exc) from exc
                raise SourceUnavailable(
                    self.name,
                    f"body ended after {partial.size} of {size} bytes ({exc})",
                ) from exc
            if not block:
                return
            partial.append(block)
            report.add(self.server_url, len(block))
            progress.advance(len(block))
        if response.read(1):
            raise SourceUnavailable(self.name, f"sent more than the manifest's {size} bytes")
