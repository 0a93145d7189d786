"""`distributor keys init|show`: the project's signing key pair in a data directory.

The public key (`ed25519:...`, what `client-fetch --key` takes) is always the last line printed;
`--export FILE` also writes it to FILE (for a volume shared with hosts, without the private key).
"""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from distributor.errors import SigningKeyMissing
from distributor.keys import KeyPaths, init_keys, load_signing_key


def _export(public_key: str, export: Path | None, out: TextIO) -> None:
    """Also write the public key to `export` (e.g. a volume shared with hosts)."""
    if export is not None:
        export.parent.mkdir(parents=True, exist_ok=True)
        export.write_text(f"{public_key}\n", encoding="utf-8")
        print(f"public key exported to {export}", file=out)


def keys_init(data_dir: Path, out: TextIO, export: Path | None = None) -> int:
    result = init_keys(data_dir)
    if result.created:
        print(f"created signing key {result.paths.private} (mode 0600)", file=out)
    else:
        print(f"signing key {result.paths.private} exists already; not overwriting it", file=out)
    print(f"public key file: {result.paths.public}", file=out)
    _export(str(result.public_key), export, out)
    print(str(result.public_key), file=out)
    return 0


def keys_show(data_dir: Path, out: TextIO, export: Path | None = None) -> int:
    paths = KeyPaths(data_dir)
    if not paths.private.exists():
        raise SigningKeyMissing(str(paths.private))
    public_key = str(load_signing_key(data_dir).public_key)
    _export(public_key, export, out)
    print(public_key, file=out)
    return 0
