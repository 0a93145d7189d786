"""`distributor keys init|show`: the project's signing key pair in a data directory.

The public key (`ed25519:...`, what `client-fetch --key` takes) is always the last line printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from distributor.errors import SigningKeyMissing
from distributor.keys import KeyPaths, init_keys, load_signing_key


def keys_init(data_dir: Path, out: TextIO) -> int:
    result = init_keys(data_dir)
    if result.created:
        print(f"created signing key {result.paths.private} (mode 0600)", file=out)
    else:
        print(f"signing key {result.paths.private} exists already; not overwriting it", file=out)
    print(f"public key file: {result.paths.public}", file=out)
    print(str(result.public_key), file=out)
    return 0


def keys_show(data_dir: Path, out: TextIO) -> int:
    paths = KeyPaths(data_dir)
    if not paths.private.exists():
        raise SigningKeyMissing(str(paths.private))
    print(str(load_signing_key(data_dir).public_key), file=out)
    return 0
