"""Helpers shared by tests: sample images and running `client-fetch` as a real process."""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLIENT = [sys.executable, "-m", "client_fetch"]


def make_image(path: Path, size: int, seed: int = 0) -> str:
    """Write a sample image (random blocks with zero runs); return its sha256."""
    rng = random.Random(seed)
    hasher = hashlib.sha256()
    block = 64 * 1024
    with path.open("wb") as handle:
        written = 0
        while written < size:
            count = min(block, size - written)
            data = bytes(count) if rng.random() < 0.3 else rng.randbytes(count)
            handle.write(data)
            hasher.update(data)
            written += count
    return hasher.hexdigest()


@dataclass
class ClientRun:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.stdout.strip().splitlines()[-1])
        return result


def run_client(*args: str, timeout: float = 120, env: dict[str, str] | None = None) -> ClientRun:
    completed = subprocess.run(
        [*CLIENT, *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
    return ClientRun(completed.returncode, completed.stdout, completed.stderr)


def start_client(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLIENT, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def cache_state(cache: Path) -> dict[str, list[str]]:
    """What the cache holds: committed images and partial downloads (by file name)."""

    def names(sub: str) -> list[str]:
        folder = cache / sub
        return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []

    return {"images": names("images"), "downloads": names("downloads")}
