"""Validation of image names, versions and `NAME[@VERSION]` references.

Names and versions become URL path segments and file names on servers and hosts, so they are held
to `[A-Za-z0-9._-]`, bounded in length, must start with a letter or digit, and may not be `.`/`..`
or contain `..` (no path traversal, no hidden files).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from image_format.errors import InvalidName

MAX_NAME_LENGTH = 128
MAX_VERSION_LENGTH = 64
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _validate(what: str, value: str, max_length: int) -> str:
    if not value:
        raise InvalidName(what, value, "must not be empty")
    if len(value) > max_length:
        raise InvalidName(what, value, f"longer than {max_length} characters")
    if not _SEGMENT.fullmatch(value):
        raise InvalidName(
            what,
            value,
            "only letters, digits, '.', '_' and '-' are allowed, starting with a letter or digit",
        )
    if ".." in value:
        raise InvalidName(what, value, "must not contain '..'")
    return value


def validate_name(value: str) -> str:
    """Return `value` if it is a valid image name, else raise `InvalidName`."""
    return _validate("image name", value, MAX_NAME_LENGTH)


def validate_version(value: str) -> str:
    """Return `value` if it is a valid version, else raise `InvalidName`."""
    return _validate("version", value, MAX_VERSION_LENGTH)


@dataclass(frozen=True)
class ImageRef:
    """`NAME` or `NAME@VERSION` as typed by a user; `version` None means "the latest"."""

    name: str
    version: str | None = None

    @classmethod
    def parse(cls, text: str) -> ImageRef:
        name, sep, version = text.partition("@")
        if sep and not version:
            raise InvalidName("image reference", text, "empty version after '@'")
        return cls(validate_name(name), validate_version(version) if sep else None)

    def __str__(self) -> str:
        return self.name if self.version is None else f"{self.name}@{self.version}"
