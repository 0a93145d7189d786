"""External programs tests need (Debian packages), installed on demand.

`require_binary(name, apt_package)` returns the program's path. When it is missing and we are
root on a Debian-like system, it runs `apt-get install` once per package and process (after an
`apt-get update` when the first try fails). When the program still cannot be found, the test
FAILS (never skips) with a message saying what to install: a missing tool must not turn a test
suite green.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

import pytest

APT_TIMEOUT_SECONDS = 900


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(
        ["apt-get", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=APT_TIMEOUT_SECONDS,
        check=False,
    )


@functools.cache
def _install(apt_package: str) -> str:
    """Install `apt_package`; returns "" on success, else what went wrong."""
    if shutil.which("apt-get") is None:
        return "apt-get is not available on this system"
    if os.geteuid() != 0:
        return "not running as root, so apt-get cannot install it"
    done = _apt("install", "-y", "--no-install-recommends", apt_package)
    if done.returncode != 0:
        update = _apt("update")
        if update.returncode != 0:
            return f"apt-get update failed: {update.stderr.strip()[-2000:]}"
        done = _apt("install", "-y", "--no-install-recommends", apt_package)
    if done.returncode != 0:
        return f"apt-get install {apt_package} failed: {done.stderr.strip()[-2000:]}"
    return ""


def require_binary(name: str, apt_package: str) -> str:
    """The path of program `name`, installing Debian package `apt_package` if needed."""
    found = shutil.which(name)
    if found:
        return found
    problem = _install(apt_package)
    found = shutil.which(name)
    if found:
        return found
    pytest.fail(
        f"this test needs `{name}` (Debian package `{apt_package}`): "
        f"{problem or 'installed, but the program is still not on PATH'}. "
        f"Install it with `apt-get install {apt_package}`.",
        pytrace=False,
    )
