"""The one verifier: a finished partial file against the signed manifest's size and sha256.

Every source ends here, whatever it was; nothing reaches the cache's `images/` without passing.
The sha256 is the one the partial computed while bytes were appended in order, or the digest a
swarm source recorded after checking every piece against the signed torrent's SHA-256 piece hashes
(`client_fetch.piece_checker`), or the one a delta apply computed over all it wrote and matched
with the patch's result digest; otherwise the whole file is read and hashed here.
Errors: `SizeMismatch` / `DigestMismatch` from image_format; OSError propagates.
"""

from __future__ import annotations

from pathlib import Path

from client_fetch.partial_file import PartialFile
from client_fetch.progress import Progress
from image_format.digest import hash_file
from image_format.errors import DigestMismatch, SizeMismatch
from image_format.manifest import Manifest


def verify_partial(manifest: Manifest, partial: PartialFile, progress: Progress | None) -> None:
    """Raise unless `partial` holds exactly the manifest's bytes."""
    actual_size = partial.path.stat().st_size
    if actual_size != manifest.size:
        raise SizeMismatch(manifest.ref, manifest.size, actual_size)
    digest = partial.running_digest()
    if digest is None:
        on_bytes = progress.advance if progress is not None else None
        if progress is not None:
            progress.set_done(0)
        digest, _ = hash_file(partial.path, on_bytes=on_bytes)
    if digest != manifest.sha256:
        raise DigestMismatch(manifest.ref, manifest.sha256, digest)


def verify_file(subject: str, path: Path, sha256: str, size: int) -> None:
    """Raise unless the file at `path` has exactly `size` bytes hashing to `sha256`."""
    actual_size = path.stat().st_size
    if actual_size != size:
        raise SizeMismatch(subject, size, actual_size)
    digest, _ = hash_file(path)
    if digest != sha256:
        raise DigestMismatch(subject, sha256, digest)
