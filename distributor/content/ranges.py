"""Parsing an HTTP `Range` header against a representation of known size (RFC 9110 §14).

Policy: one range (`bytes=a-b`, `bytes=a-`, `bytes=-n`) is honoured; a header with several ranges
is ignored (the full representation is sent with 200, which RFC 9110 allows: "a server MAY ignore
the Range header field"), as is a malformed header or another unit. Not responsible for If-Range
or for sending anything. Error contract: none raised; the outcome is a value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPEC = re.compile(r"(\d*)-(\d*)")


@dataclass(frozen=True)
class ByteRange:
    """A satisfiable range, `start` inclusive, `end` exclusive."""

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end - 1}/{size}"


class Unsatisfiable:
    """The range lies outside the representation: answer 416 with `bytes */size`."""


UNSATISFIABLE = Unsatisfiable()


def parse_range(header: str | None, size: int) -> ByteRange | Unsatisfiable | None:
    """None means "send everything" (no header, malformed, other unit, or several ranges)."""
    if header is None:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or not spec:
        return None
    parts = [part.strip() for part in spec.split(",")]
    if len(parts) != 1:
        return None
    match = _SPEC.fullmatch(parts[0])
    if match is None:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:
        suffix = int(last)
        if suffix == 0 or size == 0:
            return UNSATISFIABLE
        return ByteRange(max(0, size - suffix), size)
    start = int(first)
    end = size if not last else int(last) + 1
    if last and end <= start:
        return None  # last < first: syntactically invalid, ignored
    if start >= size:
        return UNSATISFIABLE
    return ByteRange(start, min(end, size))
