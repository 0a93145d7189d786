"""`distributor upload`: publish a local file on a remote distributor through the admin API.

The file is read twice: once to compute the sha256 sent as `X-Content-Sha256` (so the server
refuses content damaged on the way), once streamed as the request body with its Content-Length.
Error contract: `UploadFailed` carries the HTTP status and the server's error code.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import httpx

from image_format.content_paths import version_path
from image_format.digest import hash_file
from image_format.manifest import ContentKind

UPLOAD_BLOCK_BYTES = 1 << 20


class UploadFailed(Exception):
    """The server refused the upload or could not be reached; `status` is None if unreachable."""

    def __init__(self, url: str, status: int | None, code: str, detail: str) -> None:
        where = f"HTTP {status}, {code}" if status is not None else "no answer"
        super().__init__(f"upload to {url} failed ({where}): {detail}")
        self.url = url
        self.status = status
        self.code = code


def _blocks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while block := handle.read(UPLOAD_BLOCK_BYTES):
            yield block


def upload(
    server: str, token: str, name: str, version: str, file: Path, kind: ContentKind, out: TextIO
) -> int:
    url = server.rstrip("/") + version_path(name, version)
    digest, size = hash_file(file)
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Length": str(size),
        "X-Content-Sha256": digest,
        "Content-Type": "application/octet-stream",
    }
    try:
        answer = httpx.put(
            url,
            params={"kind": kind},
            content=_blocks(file),
            headers=headers,
            timeout=httpx.Timeout(60.0, connect=10.0),
        )
    except httpx.HTTPError as exc:
        raise UploadFailed(url, None, "unreachable", str(exc)) from exc
    if answer.status_code not in (200, 201):
        try:
            body = answer.json()
            code, detail = str(body.get("error")), str(body.get("detail"))
        except ValueError:
            code, detail = "unknown", answer.text[:500]
        raise UploadFailed(url, answer.status_code, code, detail)
    state = "published" if answer.status_code == 201 else "already published (same content)"
    print(f"{state}: {name}@{version} {kind} sha256:{digest} {size} bytes on {server}", file=out)
    return 0
