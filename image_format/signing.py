"""Signing and verifying manifests: the model-level layer over `image_format.envelope`.

Error contract: `verify_signed_manifest` raises a subclass of `ManifestError` (malformed, unsigned,
bad signature, expired) and nothing else; `check_manifest_identity` raises `ManifestMismatch`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import ValidationError

from image_format.envelope import PublicKey, SigningKey, sign_document, verify_envelope
from image_format.errors import ManifestExpired, ManifestMalformed, ManifestMismatch
from image_format.manifest import Manifest
from image_format.timestamps import parse_utc_timestamp

__all__ = [
    "PublicKey",
    "SigningKey",
    "check_manifest_identity",
    "sign_manifest",
    "verify_signed_manifest",
]


def sign_manifest(manifest: Manifest, key: SigningKey) -> bytes:
    """The signed envelope of `manifest`, as UTF-8 JSON bytes."""
    return sign_document(manifest.to_document(), key)


def verify_signed_manifest(
    data: bytes, keys: Sequence[PublicKey], *, now: datetime | None = None
) -> Manifest:
    """Check an envelope against the trusted keys; return the manifest it signs.

    Raises `ManifestMalformed` (also for any bytes that are not a well-formed envelope, see
    `image_format.envelope`), `ManifestUnsigned`, `SignatureInvalid` or `ManifestExpired`.
    """
    document = verify_envelope(data, keys)
    try:
        manifest = Manifest.model_validate(document)
    except (ValidationError, ValueError, RecursionError) as exc:
        raise ManifestMalformed(f"the signed manifest has invalid fields: {exc}") from exc
    if manifest.expires is not None:
        moment = now or datetime.now(UTC)
        if parse_utc_timestamp(manifest.expires) <= moment:
            raise ManifestExpired(f"manifest for {manifest.ref} expired at {manifest.expires}")
    return manifest


def check_manifest_identity(manifest: Manifest, name: str, version: str | None) -> None:
    """Raise `ManifestMismatch` unless `manifest` is for `name` (and `version`, when given)."""
    if manifest.name != name or (version is not None and manifest.version != version):
        wanted = name if version is None else f"{name}@{version}"
        raise ManifestMismatch(f"asked for {wanted}, the signed manifest is for {manifest.ref}")
