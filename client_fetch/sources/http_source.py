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

import httpx

from client_fetch.errors import SourceUnavailable
from client_fetch.partial_file import PartialFile
from client_fetch.progress import Progress
from client_fetch.sources.base import Estimate, FetchReport
from image_format.content_paths import blob_path
from image_format.manifest import Manifest


def _content_range_start(header: str | None) -> int | None:
    # "bytes 100-199/1000"
    if not header or not header.startswith("bytes "):
        return None
    first, _, _ = header[len("bytes ") :].partition("-")
    return int(first) if first.isdigit() else None


class HttpSource:
    """Fetches `/v1/blobs/sha256/<digest>` from `server_url` with a shared httpx client."""

    method = "http"

    def __init__(self, server_url: str, client: httpx.Client, *, read_bytes: int) -> None:
        self.server_url = server_url.rstrip("/")
        self._client = client
        self._read_bytes = read_bytes

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
        if partial.size >= manifest.size:
            return
        url = self.server_url + blob_path(manifest.sha256)
        try:
            self._stream_into(url, manifest, partial, progress, report)
        except httpx.TimeoutException as exc:
            raise SourceUnavailable(
                self.name, f"stalled: no data within the timeout ({type(exc).__name__})"
            ) from exc
        except httpx.RemoteProtocolError as exc:
            raise SourceUnavailable(
                self.name,
                f"body ended after {partial.size} of {manifest.size} bytes (connection closed: "
                f"{exc})",
            ) from exc
        except httpx.HTTPError as exc:
            raise SourceUnavailable(self.name, f"transfer failed: {exc!r}") from exc
        if partial.size < manifest.size:
            raise SourceUnavailable(
                self.name, f"body ended after {partial.size} of {manifest.size} bytes"
            )

    def _stream_into(
        self,
        url: str,
        manifest: Manifest,
        partial: PartialFile,
        progress: Progress,
        report: FetchReport,
    ) -> None:
        offset = partial.size
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        with self._client.stream("GET", url, headers=headers) as response:
            status = response.status_code
            if status == 404:
                raise SourceUnavailable(
                    self.name, "404: the server has no such blob", not_found=True
                )
            if status == 206:
                if _content_range_start(response.headers.get("content-range")) != offset:
                    raise SourceUnavailable(self.name, "206 for another range than requested")
            elif status == 200:
                if offset:
                    partial.restart()
                    progress.set_done(0)
            else:
                raise SourceUnavailable(self.name, f"HTTP {status} for {url}")
            for block in response.iter_raw():
                remaining = manifest.size - partial.size
                if len(block) > remaining:
                    raise SourceUnavailable(
                        self.name, f"sent more than the manifest's {manifest.size} bytes"
                    )
                partial.append(block)
                report.add(self.server_url, len(block))
                progress.advance(len(block))
