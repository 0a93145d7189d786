"""Bencoding (BEP 3): the encoding of torrent files and tracker answers.

Values: `int`, `bytes`, `list`, `dict`. `bencode` also accepts `str` (written as UTF-8) for
strings and dictionary keys, and tuples as lists; it writes dictionary keys sorted as raw bytes,
so equal values always encode to equal bytes. `bdecode` returns only `int`, `bytes`, `list` and
`dict[bytes, ...]` and is strict: no leading zeros, no `-0`, no trailing data, unique keys, a
bounded nesting depth and input size. Keys out of order are refused unless `sorted_keys=False`
(some torrents in the wild have them; the values are still read exactly).

Error contract: both functions raise `BencodeError` (a `ValueError`), which carries the byte
`offset` where decoding failed (-1 for encoding errors), and nothing else.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import TypeAlias

from image_format.errors import ImageFormatError

BencodeValue: TypeAlias = "int | bytes | list[BencodeValue] | dict[bytes, BencodeValue]"
# Covariant containers, so a `dict[str, int]` is accepted; at run time lists, tuples and dicts.
Encodable: TypeAlias = (
    "int | bytes | str | Sequence[Encodable] | Mapping[bytes, Encodable] | Mapping[str, Encodable]"
)

DEFAULT_MAX_DEPTH = 64
DEFAULT_MAX_SIZE_BYTES = 64 << 20
MAX_INT_DIGITS = 64
_DIGITS = b"0123456789"


class BencodeError(ImageFormatError, ValueError):
    """Bytes that are not valid bencoding, or a value that cannot be bencoded.

    `offset` is the position in the input where decoding failed (-1 when encoding).
    """

    def __init__(self, reason: str, offset: int = -1) -> None:
        where = f" at byte {offset}" if offset >= 0 else ""
        super().__init__(f"bencoding: {reason}{where}")
        self.reason = reason
        self.offset = offset


def bencode(value: Encodable) -> bytes:
    """The bencoding of `value`; raises `BencodeError` for unsupported types or duplicate keys."""
    out: list[bytes] = []
    _encode(value, out, 0)
    return b"".join(out)


def _key_bytes(key: object) -> bytes:
    if isinstance(key, bytes):
        return key
    if isinstance(key, str):
        return key.encode("utf-8")
    raise BencodeError(f"dictionary keys must be bytes or str, not {type(key).__name__}")


def _encode(value: object, out: list[bytes], depth: int) -> None:
    if depth > DEFAULT_MAX_DEPTH:
        raise BencodeError(f"nesting deeper than {DEFAULT_MAX_DEPTH}")
    if isinstance(value, bool):
        raise BencodeError("booleans have no bencoding (use 0 or 1)")
    if isinstance(value, int):
        out.append(b"i%de" % value)
    elif isinstance(value, bytes | str):
        raw = value.encode("utf-8") if isinstance(value, str) else value
        out.append(b"%d:" % len(raw))
        out.append(raw)
    elif isinstance(value, list | tuple):
        out.append(b"l")
        for item in value:
            _encode(item, out, depth + 1)
        out.append(b"e")
    elif isinstance(value, dict):
        items = sorted(((_key_bytes(k), v) for k, v in value.items()), key=lambda kv: kv[0])
        for (left, _), (right, _) in itertools.pairwise(items):
            if left == right:
                raise BencodeError(f"duplicate dictionary key {left!r}")
        out.append(b"d")
        for key, item in items:
            out.append(b"%d:" % len(key))
            out.append(key)
            _encode(item, out, depth + 1)
        out.append(b"e")
    else:
        raise BencodeError(f"cannot bencode a {type(value).__name__}")


def bdecode(
    data: bytes,
    *,
    sorted_keys: bool = True,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_size_bytes: int = DEFAULT_MAX_SIZE_BYTES,
) -> BencodeValue:
    """The one value `data` encodes; raises `BencodeError` (with the offset) otherwise."""
    if len(data) > max_size_bytes:
        raise BencodeError(f"input of {len(data)} bytes exceeds the limit of {max_size_bytes}", 0)
    decoder = _Decoder(bytes(data), sorted_keys=sorted_keys, max_depth=max_depth)
    value = decoder.value(0)
    if decoder.pos != len(data):
        raise BencodeError("trailing data after the value", decoder.pos)
    return value


class _Decoder:
    """A cursor over the input; one method per kind of value."""

    def __init__(self, data: bytes, *, sorted_keys: bool, max_depth: int) -> None:
        self.data = data
        self.pos = 0
        self.sorted_keys = sorted_keys
        self.max_depth = max_depth

    def _peek(self) -> int:
        if self.pos >= len(self.data):
            raise BencodeError("unexpected end of data", self.pos)
        return self.data[self.pos]

    def value(self, depth: int) -> BencodeValue:
        if depth > self.max_depth:
            raise BencodeError(f"nesting deeper than {self.max_depth}", self.pos)
        lead = self._peek()
        if lead == ord("i"):
            return self.integer()
        if lead == ord("l"):
            return self.list(depth)
        if lead == ord("d"):
            return self.dict(depth)
        if lead in _DIGITS:
            return self.string()
        raise BencodeError(f"unexpected byte {bytes([lead])!r}", self.pos)

    def _digits(self, end_byte: bytes, what: str, start: int) -> tuple[str, int]:
        """The text from `pos` up to `end_byte` (exclusive) and the position after it."""
        end = self.data.find(end_byte, self.pos, self.pos + MAX_INT_DIGITS + 2)
        if end < 0:
            if self.data.find(end_byte, self.pos) < 0:
                raise BencodeError(f"unterminated {what}", start)
            raise BencodeError(f"{what} longer than {MAX_INT_DIGITS} digits", start)
        return self.data[self.pos : end].decode("latin-1"), end + 1

    def integer(self) -> int:
        start = self.pos
        self.pos += 1
        text, after = self._digits(b"e", "integer", start)
        digits = text[1:] if text.startswith("-") else text
        if not digits or not digits.isdigit() or not digits.isascii():
            raise BencodeError(f"malformed integer {text!r}", start)
        if (len(digits) > 1 and digits[0] == "0") or text == "-0":
            raise BencodeError(f"integer with a leading zero or negative zero {text!r}", start)
        self.pos = after
        return int(text)

    def string(self) -> bytes:
        start = self.pos
        text, after = self._digits(b":", "string length", start)
        if not text.isdigit() or not text.isascii():
            raise BencodeError(f"malformed string length {text!r}", start)
        if len(text) > 1 and text[0] == "0":
            raise BencodeError(f"string length with a leading zero {text!r}", start)
        length = int(text)
        if after + length > len(self.data):
            raise BencodeError(f"string of {length} bytes runs past the end of data", start)
        self.pos = after + length
        return self.data[after : self.pos]

    def list(self, depth: int) -> list[BencodeValue]:
        self.pos += 1
        items: list[BencodeValue] = []
        while self._peek() != ord("e"):
            items.append(self.value(depth + 1))
        self.pos += 1
        return items

    def dict(self, depth: int) -> dict[bytes, BencodeValue]:
        self.pos += 1
        result: dict[bytes, BencodeValue] = {}
        previous: bytes | None = None
        while self._peek() != ord("e"):
            key_at = self.pos
            if self._peek() not in _DIGITS:
                raise BencodeError("dictionary key is not a string", key_at)
            key = self.string()
            if key in result:
                raise BencodeError(f"duplicate dictionary key {key!r}", key_at)
            if self.sorted_keys and previous is not None and key < previous:
                raise BencodeError(f"dictionary key {key!r} out of order", key_at)
            result[key] = self.value(depth + 1)
            previous = key
        self.pos += 1
        return result
