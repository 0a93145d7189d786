"""Typed errors of the distributor. Each carries the identifiers it is about and a stable `code`.

The `code` is what HTTP error bodies carry (`ErrorBody.error`); the HTTP status and CLI exit code
for each error are decided at those boundaries (`distributor.api.errors`, `distributor.cli`), not
here. Errors of `image_format` (`InvalidName`, `InvalidDigest`) pass through unchanged.
"""

from __future__ import annotations


class DistributorError(Exception):
    """Base of every error the distributor raises on purpose."""

    code = "internal"


class ImageNotFound(DistributorError):
    """The catalog has no image of this name."""

    code = "image_not_found"

    def __init__(self, name: str) -> None:
        super().__init__(f"no image named {name!r}")
        self.name = name


class VersionNotFound(DistributorError):
    """The catalog has no such version of the image."""

    code = "version_not_found"

    def __init__(self, name: str, version: str) -> None:
        super().__init__(f"no version {version!r} of image {name!r}")
        self.name = name
        self.version = version


class BlobNotFound(DistributorError):
    """No blob with this digest is stored."""

    code = "blob_not_found"

    def __init__(self, digest: str) -> None:
        super().__init__(f"no blob with sha256 {digest}")
        self.digest = digest


class VersionConflict(DistributorError):
    """NAME@VERSION is already published with other content; versions are never overwritten."""

    code = "version_conflict"

    def __init__(self, name: str, version: str, existing_sha256: str, new_sha256: str) -> None:
        super().__init__(
            f"{name}@{version} is already published with sha256 {existing_sha256}; "
            f"refusing to replace it with {new_sha256} (publish a new version instead)"
        )
        self.name = name
        self.version = version
        self.existing_sha256 = existing_sha256
        self.new_sha256 = new_sha256


class VersionRetired(DistributorError):
    """NAME@VERSION was published and then retired: the pair is never published again (hosts
    may still hold its manifest), whatever the content."""

    code = "version_retired"

    def __init__(self, name: str, version: str, retired: str) -> None:
        super().__init__(
            f"{name}@{version} was retired at {retired}; a retired version is never published "
            "again (publish a new version instead)"
        )
        self.name = name
        self.version = version
        self.retired = retired


class UploadTooLarge(DistributorError):
    """Content is longer than the configured upload limit."""

    code = "upload_too_large"

    def __init__(self, limit_bytes: int) -> None:
        super().__init__(f"content exceeds the upload limit of {limit_bytes} bytes")
        self.limit_bytes = limit_bytes


class ContentDigestMismatch(DistributorError):
    """Uploaded content does not hash to the sha256 the uploader announced."""

    code = "digest_mismatch"

    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"content sha256 is {actual}, the uploader announced {expected}")
        self.expected = expected
        self.actual = actual


class StorageError(DistributorError):
    """The blob store cannot read or write (disk full, permissions, vanished files)."""

    code = "storage_error"

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"blob store at {path}: {reason}")
        self.path = path
        self.reason = reason


class CatalogError(DistributorError):
    """The catalog cannot be opened or cannot answer."""

    code = "catalog_error"

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"catalog {url}: {reason}")
        self.url = url
        self.reason = reason


class UnsupportedCatalogUrl(CatalogError):
    """The catalog URL names a database this build cannot use."""

    code = "unsupported_catalog_url"


class SigningKeyMissing(DistributorError):
    """The data directory holds no signing key (run `distributor keys init`)."""

    code = "signing_key_missing"

    def __init__(self, path: str) -> None:
        super().__init__(
            f"no signing key at {path}; create one with `distributor keys init --data DIR`"
        )
        self.path = path


class SettingsInvalid(DistributorError):
    """A setting (environment variable or flag) has a value the distributor cannot use; the
    message names each one and where it is set."""

    code = "settings_invalid"


class WeakAdminToken(DistributorError):
    """The admin token is empty or guessable; the server refuses to start with it."""

    code = "weak_admin_token"

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"refusing to start: the admin token {reason}. Set DISTRIBUTOR_ADMIN_TOKEN to a random "
            "secret of at least 16 characters (e.g. `python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'`), or pass --dev for a local development server"
        )
        self.reason = reason


class NotAuthorized(DistributorError):
    """The request lacks the admin bearer token, or carries a wrong one."""

    code = "unauthorized"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PublishingDisabled(DistributorError):
    """The server has no usable signing key, so it cannot publish."""

    code = "publishing_disabled"
