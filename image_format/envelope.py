"""Ed25519 keys and the signed envelope, without any manifest model (no pydantic).

The cache-hit fast path of the fetcher re-verifies a cached envelope with this module alone.

Envelope (what the distributor serves and the fetcher caches)::

    {"signed": {...manifest document...},
     "signatures": [{"keyid": "<16 hex>", "sig": "<base64 ed25519 signature>"}]}

The signature covers `canonical_json_bytes(envelope["signed"])`. A public key is written
`ed25519:<base64 of the 32 raw bytes>`; its key id is the first 16 hex digits of the sha256 of those
bytes. Private keys are PKCS#8 PEM files, created with mode 0600.

Error contract: reading keys raises `KeyFormatError`; `verify_envelope` raises `ManifestMalformed`,
`ManifestUnsigned` or `SignatureInvalid` and nothing else, whatever the bytes (they come from any
mirror, unsigned). `ManifestMalformed` covers an envelope over `MAX_ENVELOPE_BYTES` or with more
than `MAX_SIGNATURES` signatures; JSON that is invalid, nested too deep or holds a number Python
will not read (an integer of more than 4300 digits); a `signed` document with no canonical bytes
(NaN or Infinity, a lone surrogate).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from image_format.errors import (
    KeyFormatError,
    ManifestMalformed,
    ManifestUnsigned,
    SignatureInvalid,
)

PUBLIC_KEY_PREFIX = "ed25519:"
MAX_ENVELOPE_BYTES = 4 << 20  # a manifest is a few KiB; the fetcher refuses larger responses too
MAX_SIGNATURES = 32  # one per signing key; more would only make a hostile mirror cost CPU


def canonical_json_bytes(document: Any) -> bytes:
    """The bytes a signature covers: sorted keys, compact separators, UTF-8, no NaN.

    Raises ValueError for a document that has none (NaN or Infinity, a lone surrogate) and
    RecursionError for one nested too deep; `verify_envelope` turns both into ManifestMalformed.
    """
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


@dataclass(frozen=True)
class PublicKey:
    """A trusted ed25519 public key."""

    raw: bytes

    @property
    def key_id(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()[:16]

    def __str__(self) -> str:
        return PUBLIC_KEY_PREFIX + base64.b64encode(self.raw).decode("ascii")

    @classmethod
    def parse(cls, text: str, *, source: str = "the key given") -> PublicKey:
        text = text.strip()
        if not text.startswith(PUBLIC_KEY_PREFIX):
            raise KeyFormatError(source, f"a public key starts with {PUBLIC_KEY_PREFIX!r}")
        try:
            raw = base64.b64decode(text[len(PUBLIC_KEY_PREFIX) :], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise KeyFormatError(source, "the key is not valid base64") from exc
        if len(raw) != 32:
            raise KeyFormatError(source, f"an ed25519 public key has 32 bytes, not {len(raw)}")
        return cls(raw)

    def verify(self, signature: bytes, message: bytes) -> bool:
        try:
            ed25519.Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, message)
        except InvalidSignature:
            return False
        return True


def load_public_keys(value: str) -> list[PublicKey]:
    """Keys from a key string, or from a file holding one key per line (# comments allowed)."""
    if value.strip().startswith(PUBLIC_KEY_PREFIX):
        return [PublicKey.parse(value)]
    path = Path(value)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFormatError(
            value, f"neither an '{PUBLIC_KEY_PREFIX}...' key nor a readable key file ({exc})"
        ) from exc
    lines = [line.strip() for line in text.splitlines()]
    keys = [
        PublicKey.parse(line, source=value) for line in lines if line and not line.startswith("#")
    ]
    if not keys:
        raise KeyFormatError(value, "the file holds no key")
    return keys


class SigningKey:
    """The project's private ed25519 key. Not responsible for where the key file lives."""

    def __init__(self, private: ed25519.Ed25519PrivateKey) -> None:
        self._private = private

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(ed25519.Ed25519PrivateKey.generate())

    @classmethod
    def load(cls, path: Path) -> SigningKey:
        # Imported here: `serialization` costs ~10 ms of start-up (its SSH key support), and only
        # the distributor's signing needs it, not the fetcher's verifying.
        from cryptography.hazmat.primitives import serialization

        try:
            loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise KeyFormatError(str(path), str(exc)) from exc
        if not isinstance(loaded, ed25519.Ed25519PrivateKey):
            raise KeyFormatError(str(path), "not an ed25519 private key")
        return cls(loaded)

    def save(self, path: Path) -> None:
        """Write the key as PKCS#8 PEM, readable by the owner only; refuses to overwrite."""
        from cryptography.hazmat.primitives import serialization

        pem = self._private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)

    @property
    def public_key(self) -> PublicKey:
        return PublicKey(self._private.public_key().public_bytes_raw())

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)


def sign_document(document: dict[str, Any], key: SigningKey) -> bytes:
    """The signed envelope of `document`, as UTF-8 JSON bytes."""
    signature = key.sign(canonical_json_bytes(document))
    envelope = {
        "signed": document,
        "signatures": [
            {"keyid": key.public_key.key_id, "sig": base64.b64encode(signature).decode("ascii")}
        ],
    }
    return json.dumps(envelope, sort_keys=True, indent=1).encode("utf-8") + b"\n"


def _decode_envelope(data: bytes) -> tuple[dict[str, Any], list[Any]]:
    if len(data) > MAX_ENVELOPE_BYTES:
        raise ManifestMalformed(f"the manifest is larger than {MAX_ENVELOPE_BYTES} bytes")
    try:
        envelope = json.loads(data)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, an integer too long to read
        raise ManifestMalformed(f"the manifest is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise ManifestMalformed("the manifest's JSON is nested too deeply") from exc
    if not isinstance(envelope, dict) or not isinstance(envelope.get("signed"), dict):
        raise ManifestMalformed("the manifest has no 'signed' object")
    signatures = envelope.get("signatures")
    if not signatures:
        raise ManifestUnsigned("the manifest carries no signature")
    if not isinstance(signatures, list):
        raise ManifestMalformed("'signatures' is not a list")
    if len(signatures) > MAX_SIGNATURES:
        raise ManifestMalformed(f"the manifest carries more than {MAX_SIGNATURES} signatures")
    return envelope["signed"], signatures


def _signed_bytes(document: dict[str, Any]) -> bytes:
    """`canonical_json_bytes(document)`, or ManifestMalformed when it has none."""
    try:
        return canonical_json_bytes(document)
    except ValueError as exc:  # NaN/Infinity; UnicodeEncodeError for a lone surrogate
        raise ManifestMalformed(f"the signed document has no canonical JSON form: {exc}") from exc
    except RecursionError as exc:
        raise ManifestMalformed("the signed document is nested too deeply") from exc


def _signature(entry: object) -> tuple[str, bytes] | None:
    """(key id, raw signature) of one `signatures` entry, or None when it is not one."""
    if not isinstance(entry, dict):
        return None
    keyid, sig = entry.get("keyid"), entry.get("sig")
    if not isinstance(keyid, str) or not isinstance(sig, str):
        return None
    try:
        return keyid, base64.b64decode(sig, validate=True)
    except (binascii.Error, ValueError):
        return None


def verify_envelope(data: bytes, keys: Sequence[PublicKey]) -> dict[str, Any]:
    """Check an envelope against the trusted keys; return the signed document.

    Raises `ManifestMalformed`, `ManifestUnsigned` or `SignatureInvalid` (see the module's error
    contract), nothing else.
    """
    document, signatures = _decode_envelope(data)
    message = _signed_bytes(document)
    by_id = {key.key_id: key for key in keys}
    for entry in signatures:
        parsed = _signature(entry)
        if parsed is None:
            continue
        key = by_id.get(parsed[0])
        if key is not None and key.verify(parsed[1], message):
            return document
    known = ", ".join(sorted(by_id)) or "none"
    raise SignatureInvalid(f"no signature verifies with a trusted key (trusted key ids: {known})")
