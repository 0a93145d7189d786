"""Parsing an HTTP `Range` header against a representation of known size (RFC 9110 §14).

Policy: one range (`bytes=a-b`, `bytes=a-`, `bytes=-n`) is honoured; a header with several ranges
is ignored (the full representation is sent with 200, which RFC 9110 allows: "a server MAY ignore
the Range header field"), as is a malformed header or another unit. Not responsible for If-Range
or for sending anything. Error contract: none raised; the outcome is a value.

Numbers of any length are read without converting more than `_MAX_DIGITS` digits (Python refuses
`int()` on more than 4300 and is quadratic below that): a longer number is larger than any
representation, so it saturates at `_HUGE`. Hence a first-byte-pos beyond the end is 416 however
long, a last-byte-pos beyond the end is clamped to the end, and a suffix longer than the
representation is all of it, exactly as for short numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPEC = re.compile(r"([0-9]*)-([0-9]*)")
_HUGE = 10_000_000_000_000_000_000  # 10**19: above any file size (< 2**63)
_MAX_DIGITS = len(str(_HUGE)) - 1  # every number of at most this many digits is below _HUGE


def _number(digits: str) -> int:
    """The value of an ASCII digit string, saturated at `_HUGE`."""
    significant = digits.lstrip("0")
    if len(significant) > _MAX_DIGITS:
        return _HUGE
    return int(significant or "0")


def _less(left: str, right: str) -> bool:
    """Exact `left < right` for ASCII digit strings of any length (no conversion)."""
    left, right = left.lstrip("0"), right.lstrip("0")
    return (len(left), left) < (len(right), right)


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
        suffix = _number(last)
        if suffix == 0 or size == 0:
            return UNSATISFIABLE
        return ByteRange(max(0, size - suffix), size)
    if last and _less(last, first):
        return None  # last < first: syntactically invalid, ignored
    start = _number(first)
    if start >= size:
        return UNSATISFIABLE
    end = size if not last else min(_number(last) + 1, size)
    return ByteRange(start, end)
