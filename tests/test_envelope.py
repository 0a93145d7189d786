"""Verifying envelopes from untrusted mirrors: any bytes end in a typed `ManifestError`."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from image_format.envelope import (
    MAX_ENVELOPE_BYTES,
    MAX_SIGNATURES,
    PublicKey,
    SigningKey,
    sign_document,
    verify_envelope,
)
from image_format.errors import ManifestMalformed, SignatureInvalid
from image_format.manifest import Manifest
from image_format.signing import sign_manifest, verify_signed_manifest
from image_format.timestamps import utc_timestamp

KEY = SigningKey.generate()
_SIGS = b'"signatures": [{"keyid": "0011223344556677", "sig": "AA=="}]'


def _unsigned(signed: bytes) -> bytes:
    return b'{"signed": ' + signed + b", " + _SIGS + b"}"


HOSTILE = {
    "nan": _unsigned(b'{"name": "a", "x": NaN}'),
    "infinity": _unsigned(b'{"x": -Infinity}'),
    "lone surrogate": _unsigned(b'{"x": "\\ud800"}'),
    "integer of 5000 digits": _unsigned(b'{"x": ' + b"1" * 5000 + b"}"),
    "deep nesting": _unsigned(b'{"x": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"),
    "deep nesting in signatures": b'{"signed": {}, "signatures": [' + b"[" * 100_000 + b"]}",
    "too large": _unsigned(b'{"x": "' + b"a" * MAX_ENVELOPE_BYTES + b'"}'),
    "too many signatures": b'{"signed": {}, "signatures": ['
    + b",".join([b'{"keyid": "x", "sig": "AA=="}'] * (MAX_SIGNATURES + 1))
    + b"]}",
    "not utf-8": b'{"signed": {"x": "\xff"}, ' + _SIGS + b"}",
}

Verify = Callable[[bytes, list[PublicKey]], Any]
VERIFIERS: list[Verify] = [verify_envelope, verify_signed_manifest]


@pytest.mark.parametrize("verify", VERIFIERS, ids=["envelope", "manifest"])
@pytest.mark.parametrize("data", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_envelopes_are_malformed(verify: Verify, data: bytes) -> None:
    with pytest.raises(ManifestMalformed):
        verify(data, [KEY.public_key])


def test_entries_that_are_not_signatures_are_skipped() -> None:
    manifest = Manifest(name="img", version="1", size=1, sha256="0" * 64, created=utc_timestamp())
    envelope = json.loads(sign_manifest(manifest, KEY))
    good = envelope["signatures"][0]
    envelope["signatures"] = [
        7,
        {"keyid": good["keyid"], "sig": ["not", "a", "string"]},
        {"keyid": [good["keyid"]], "sig": good["sig"]},
        {"keyid": good["keyid"], "sig": "é"},
        good,
    ]
    data = json.dumps(envelope).encode()
    assert verify_signed_manifest(data, [KEY.public_key]) == manifest
    envelope["signatures"] = envelope["signatures"][:-1]
    with pytest.raises(SignatureInvalid):
        verify_envelope(json.dumps(envelope).encode(), [KEY.public_key])


def test_a_signed_document_still_verifies() -> None:
    document = {"name": "img", "nested": [[["deep"]]], "text": "ünïcode"}
    assert verify_envelope(sign_document(document, KEY), [KEY.public_key]) == document
    wrong = base64.b64encode(bytes(64)).decode()
    forged = json.dumps({"signed": document, "signatures": [{"keyid": "x", "sig": wrong}]})
    with pytest.raises(SignatureInvalid):
        verify_envelope(forged.encode(), [KEY.public_key])
