"""Where everything lives below a host cache root, and which names are allowed there.

    images/<sha256>                    committed, verified images (read-only files, 0444)
    downloads/<sha256>.partial         partial download of that digest (never served as an image)
    downloads/<sha256>.resume          a source's resume state for that partial (goes with it)
    manifests/<name>/<version>.json    the signed manifest envelope bytes as received
    pins/<sha256>/<task>               one lease per task (JSON)
    locks/<sha256>.lock                single-flight lock file (fcntl.flock)
    quarantine/<sha256>.<utc-stamp>    images that failed verification, kept for inspection
    access/<sha256>                    empty file whose mtime is the image's last use (LRU)

Temporary files are named `.tmp-*` in the directory of the file they will replace; names, versions,
tasks and digests all start with a letter or digit, so they never collide with them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from image_format.digest import validate_digest
from image_format.errors import InvalidName
from image_format.names import validate_name, validate_version

IMAGES = "images"
DOWNLOADS = "downloads"
MANIFESTS = "manifests"
PINS = "pins"
LOCKS = "locks"
QUARANTINE = "quarantine"
ACCESS = "access"
ALL_DIRS = (IMAGES, DOWNLOADS, MANIFESTS, PINS, LOCKS, QUARANTINE, ACCESS)

PARTIAL_SUFFIX = ".partial"
RESUME_SUFFIX = ".resume"
MANIFEST_SUFFIX = ".json"
LOCK_SUFFIX = ".lock"
TMP_PREFIX = ".tmp-"
DELTA_TMP_SUFFIX = ".delta-tmp"  # image_format.delta's apply output before its rename

MAX_TASK_LENGTH = 128
_TASK = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_DIGEST = re.compile(r"[0-9a-f]{64}")


def validate_task(value: str) -> str:
    """Return `value` if it is a valid task id (same rules as image names), else `InvalidName`."""
    if not value or len(value) > MAX_TASK_LENGTH:
        raise InvalidName("task id", value, f"must have 1 to {MAX_TASK_LENGTH} characters")
    if not _TASK.fullmatch(value) or ".." in value:
        raise InvalidName(
            "task id",
            value,
            "only letters, digits, '.', '_' and '-' are allowed, starting with a "
            "letter or digit, and no '..'",
        )
    return value


def is_digest(value: str) -> bool:
    """True when `value` looks like a sha256 hex digest (for filtering directory listings)."""
    return _DIGEST.fullmatch(value) is not None


@dataclass(frozen=True)
class CacheLayout:
    """The path of every cache file, from validated identifiers.

    Not responsible for creating or reading anything. Error contract: invalid digests raise
    `InvalidDigest`, invalid names, versions and task ids raise `InvalidName` (both ValueError).
    """

    root: Path

    def dir(self, kind: str) -> Path:
        return self.root / kind

    def image(self, digest: str) -> Path:
        return self.root / IMAGES / validate_digest(digest)

    def partial(self, digest: str) -> Path:
        return self.root / DOWNLOADS / (validate_digest(digest) + PARTIAL_SUFFIX)

    def resume(self, digest: str) -> Path:
        """A source's resume state for the partial of `digest` (e.g. BitTorrent resume data)."""
        return self.root / DOWNLOADS / (validate_digest(digest) + RESUME_SUFFIX)

    def manifest_dir(self, name: str) -> Path:
        return self.root / MANIFESTS / validate_name(name)

    def manifest(self, name: str, version: str) -> Path:
        return self.manifest_dir(name) / (validate_version(version) + MANIFEST_SUFFIX)

    def pin_dir(self, digest: str) -> Path:
        return self.root / PINS / validate_digest(digest)

    def pin(self, digest: str, task: str) -> Path:
        return self.pin_dir(digest) / validate_task(task)

    def lock(self, digest: str) -> Path:
        return self.root / LOCKS / (validate_digest(digest) + LOCK_SUFFIX)

    def quarantine(self, digest: str, stamp: str) -> Path:
        return self.root / QUARANTINE / f"{validate_digest(digest)}.{stamp}"

    def access(self, digest: str) -> Path:
        return self.root / ACCESS / validate_digest(digest)


def digest_with_suffix(filename: str, suffix: str) -> str | None:
    """The digest in `<digest><suffix>`, or None when `filename` is not of that form."""
    if not filename.endswith(suffix):
        return None
    stem = filename[: len(filename) - len(suffix)]
    return stem if is_digest(stem) else None
