"""Typed errors of the image formats. Each carries the identifier it is about."""

from __future__ import annotations


class ImageFormatError(Exception):
    """Base of every error raised by `image_format`."""


class InvalidName(ImageFormatError, ValueError):
    """An image name, version or reference is not of the allowed form."""

    def __init__(self, what: str, value: str, reason: str) -> None:
        super().__init__(f"invalid {what} {value!r}: {reason}")
        self.what = what
        self.value = value
        self.reason = reason


class InvalidDigest(ImageFormatError, ValueError):
    """A digest string is not 64 lowercase hex characters."""

    def __init__(self, value: str) -> None:
        super().__init__(f"invalid sha256 digest {value!r}: expected 64 lowercase hex characters")
        self.value = value


class DigestMismatch(ImageFormatError):
    """Content hashed to something other than what the signed manifest says."""

    def __init__(self, subject: str, expected: str, actual: str) -> None:
        super().__init__(f"{subject}: sha256 is {actual}, the manifest says {expected}")
        self.subject = subject
        self.expected = expected
        self.actual = actual


class SizeMismatch(ImageFormatError):
    """Content has another length than the signed manifest says."""

    def __init__(self, subject: str, expected: int, actual: int) -> None:
        super().__init__(f"{subject}: size is {actual} bytes, the manifest says {expected}")
        self.subject = subject
        self.expected = expected
        self.actual = actual


class ManifestError(ImageFormatError):
    """A manifest cannot be trusted: base of every manifest and signature failure."""


class ManifestMalformed(ManifestError):
    """The manifest document is not valid JSON of the expected shape."""


class ManifestUnsigned(ManifestError):
    """The manifest carries no signature at all."""


class SignatureInvalid(ManifestError):
    """No signature on the manifest verifies with any trusted key."""


class ManifestExpired(ManifestError):
    """The manifest's `expires` time has passed."""


class ManifestMismatch(ManifestError):
    """A correctly signed manifest names another image or version than the one asked for."""


class KeyFormatError(ImageFormatError, ValueError):
    """A key file or key string cannot be read; `source` names the file or says "the key given"."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"cannot read key from {source}: {reason}")
        self.source = source
        self.reason = reason
