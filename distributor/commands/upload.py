"""`distributor upload`: publish a local file on a remote distributor through the admin API.

The file is read twice: once to compute the sha256 sent as `X-Content-Sha256` (so the server
refuses content damaged on the way), once streamed as the request body with its Content-Length.
Error contract: `AdminRequestFailed` (`distributor.commands.admin_http`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from distributor.commands.admin_http import admin_request
from image_format.content_paths import version_path
from image_format.digest import hash_file
from image_format.manifest import ContentKind

UPLOAD_BLOCK_BYTES = 1 << 20


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
        "Content-Length": str(size),
        "X-Content-Sha256": digest,
        "Content-Type": "application/octet-stream",
    }
    answer = admin_request(
        "PUT",
        url,
        token,
        ok=(200, 201),
        params={"kind": kind},
        content=_blocks(file),
        headers=headers,
    )
    state = "published" if answer.status_code == 201 else "already published (same content)"
    print(f"{state}: {name}@{version} {kind} sha256:{digest} {size} bytes on {server}", file=out)
    return 0
