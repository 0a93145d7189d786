"""The project's signing key pair inside a data directory: `keys/signing.key` and `signing.pub`.

Not responsible for signing (see `image_format.signing`) nor for where the data directory is
(callers pass it). Error contract: `init_keys` raises OSError for file system failures and
`KeyFormatError` for an unreadable existing key; `load_signing_key` raises `SigningKeyMissing` or
`KeyFormatError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from distributor.errors import SigningKeyMissing
from image_format.signing import PublicKey, SigningKey


@dataclass(frozen=True)
class KeyPaths:
    """Where a data directory keeps its key pair."""

    data_dir: Path

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def private(self) -> Path:
        return self.keys_dir / "signing.key"

    @property
    def public(self) -> Path:
        return self.keys_dir / "signing.pub"


@dataclass(frozen=True)
class KeyInit:
    """Outcome of `init_keys`: the public key and whether it was made just now."""

    public_key: PublicKey
    created: bool
    paths: KeyPaths


def load_signing_key(data_dir: Path) -> SigningKey:
    """The data directory's private key; `SigningKeyMissing` if there is none."""
    paths = KeyPaths(data_dir)
    if not paths.private.exists():
        raise SigningKeyMissing(str(paths.private))
    return SigningKey.load(paths.private)


def init_keys(data_dir: Path) -> KeyInit:
    """Create the key pair unless one exists; never overwrites. (Re)writes the public key file."""
    paths = KeyPaths(data_dir)
    paths.keys_dir.mkdir(parents=True, exist_ok=True)
    created = False
    if paths.private.exists():
        key = SigningKey.load(paths.private)
    else:
        key = SigningKey.generate()
        try:
            key.save(paths.private)
            created = True
        except FileExistsError:  # another `keys init` won the race: use its key
            key = SigningKey.load(paths.private)
    public = key.public_key
    paths.public.write_text(f"{public}\n", encoding="utf-8")
    return KeyInit(public, created, paths)
