"""The host cache must stay cheap to import: a cache hit is answered by a whole process."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("pydantic", "httpx", "cryptography", "image_format.manifest", "image_format.signing")


def test_importing_the_cache_loads_no_heavy_module() -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import client_fetch.cache"],
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {
        line.rsplit("|", 1)[-1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "client_fetch.cache.host_cache" in imported
    loaded = sorted(m for m in imported if m.split(".")[0] in HEAVY or m in HEAVY)
    assert loaded == []
