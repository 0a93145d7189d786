"""Bencoding: exact bytes for known values, strict decoding with offsets, property round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from image_format.bencode import BencodeError, BencodeValue, bdecode, bencode
from image_format.errors import ImageFormatError

values: st.SearchStrategy[BencodeValue] = st.recursive(
    st.integers() | st.binary(max_size=40),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.binary(max_size=12), children, max_size=5)
    ),
    max_leaves=30,
)


@given(values)
def test_round_trip(value: BencodeValue) -> None:
    assert bdecode(bencode(value)) == value


@given(values)
def test_encoding_is_canonical(value: BencodeValue) -> None:
    encoded = bencode(value)
    assert bencode(bdecode(encoded)) == encoded


@given(st.binary(max_size=64))
def test_decoding_arbitrary_bytes_raises_only_bencode_error(data: bytes) -> None:
    try:
        bdecode(data)
    except BencodeError as exc:
        assert 0 <= exc.offset <= len(data)


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, b"i0e"),
        (-42, b"i-42e"),
        (2**63, b"i9223372036854775808e"),
        (b"", b"0:"),
        (b"spam", b"4:spam"),
        ("é", b"2:\xc3\xa9"),
        ([], b"le"),
        ([1, b"a", [2]], b"li1e1:ali2eee"),
        ((1, 2), b"li1ei2ee"),
        ({}, b"de"),
        ({b"b": 1, "a": b"x"}, b"d1:a1:x1:bi1ee"),
        # keys sort as raw bytes: b"Z" (0x5a) before b"a" (0x61), b"\xff" last.
        ({b"\xff": 0, b"a": 0, b"Z": 0}, b"d1:Zi0e1:ai0e1:\xffi0ee"),
    ],
)
def test_known_encodings(value: object, encoded: bytes) -> None:
    assert bencode(value) == encoded  # type: ignore[arg-type]


def test_decode_returns_bytes_keys_and_strings() -> None:
    assert bdecode(b"d8:completei3e5:peers6:\x7f\x00\x00\x01\x1a\xe1e") == {
        b"complete": 3,
        b"peers": b"\x7f\x00\x00\x01\x1a\xe1",
    }


@pytest.mark.parametrize(
    ("data", "offset", "reason"),
    [
        (b"", 0, "unexpected end of data"),
        (b"i03e", 0, "leading zero"),
        (b"i-0e", 0, "negative zero"),
        (b"ie", 0, "malformed integer"),
        (b"i-e", 0, "malformed integer"),
        (b"i1x2e", 0, "malformed integer"),
        (b"i12", 0, "unterminated integer"),
        (b"i" + b"1" * 70 + b"e", 0, "longer than"),
        (b"02:ab", 0, "leading zero"),
        (b"5:abc", 0, "runs past the end"),
        (b"3abc", 0, "unterminated string length"),
        (b"i1ei2e", 3, "trailing data"),
        (b"x", 0, "unexpected byte"),
        (b"l", 1, "unexpected end of data"),
        (b"di1ei2ee", 1, "key is not a string"),
        (b"d1:ai1e1:ai2ee", 7, "duplicate dictionary key"),
        (b"d1:bi1e1:ai2ee", 7, "out of order"),
        (b"d1:a", 4, "unexpected end of data"),
    ],
)
def test_strict_decoding_reports_the_offset(data: bytes, offset: int, reason: str) -> None:
    with pytest.raises(BencodeError) as caught:
        bdecode(data)
    assert caught.value.offset == offset
    assert reason in str(caught.value)
    assert isinstance(caught.value, ImageFormatError)


def test_unsorted_keys_are_accepted_when_lenient() -> None:
    assert bdecode(b"d1:bi1e1:ai2ee", sorted_keys=False) == {b"b": 1, b"a": 2}
    with pytest.raises(BencodeError, match="duplicate"):
        bdecode(b"d1:ai1e1:ai2ee", sorted_keys=False)


def test_depth_and_size_are_bounded() -> None:
    deep = b"l" * 100 + b"e" * 100
    with pytest.raises(BencodeError, match="nesting deeper than 64"):
        bdecode(deep)
    assert bdecode(b"l" * 10 + b"e" * 10, max_depth=10) == [[[[[[[[[[]]]]]]]]]]
    with pytest.raises(BencodeError, match="exceeds the limit"):
        bdecode(b"4:spam", max_size_bytes=5)


@pytest.mark.parametrize("value", [True, 1.5, None, {1: 2}, object()])
def test_unencodable_values_raise(value: object) -> None:
    with pytest.raises(BencodeError):
        bencode(value)  # type: ignore[arg-type]


def test_duplicate_keys_after_str_to_bytes_are_refused() -> None:
    with pytest.raises(BencodeError, match="duplicate"):
        bencode({"a": 1, b"a": 2})  # type: ignore[dict-item]
