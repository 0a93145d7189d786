"""`distributor demo`: the whole job on embedded defaults, end to end on this machine.

Makes a key in DIR/server, starts `distributor serve --dev` on a free loopback port, publishes a
generated sample image as sample@1.0, fetches it with `client-fetch get ... --json` into DIR/cache
(twice: the second is a cache hit), then publishes an update (sample@1.1, a few blocks rewritten;
publishing makes a delta patch from 1.0) and fetches it into the same cache, where the fetcher's
plan moves only what changed (a delta or the missing chunks). Prints what happened and stops the
server with SIGTERM.
Error contract: returns 1 (after printing why) when the server or the fetcher fails.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, TextIO

from distributor.commands.publish import publish
from distributor.commands.sample_image import write_sample_image, write_updated_sample
from distributor.keys import init_keys
from distributor.local_server import ServerStartFailed, start_local_server
from distributor.settings import DistributorSettings

SAMPLE_NAME, SAMPLE_VERSION, UPDATE_VERSION = "sample", "1.0", "1.1"
FETCH_TIMEOUT_S = 300


def client_fetch_command() -> list[str]:
    """The client-fetch console script installed next to this Python, else the one on PATH."""
    beside = Path(sys.executable).parent / "client-fetch"
    found = str(beside) if beside.exists() else shutil.which("client-fetch")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from client_fetch.cli import main; sys.exit(main())"]


def _fetch(
    url: str, public_key: str, cache: Path, out: TextIO, version: str = SAMPLE_VERSION
) -> dict[str, Any] | None:
    args = [
        *client_fetch_command(),
        "get",
        f"{SAMPLE_NAME}@{version}",
        "--server",
        url,
        "--key",
        public_key,
        "--cache",
        str(cache),
        "--json",
    ]
    done = subprocess.run(args, capture_output=True, text=True, timeout=FETCH_TIMEOUT_S)
    if done.returncode != 0:
        print(f"client-fetch failed (exit {done.returncode}):\n{done.stderr.strip()}", file=out)
        return None
    try:
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        print(f"client-fetch printed no JSON result:\n{done.stdout}", file=out)
        return None
    return result


def _describe(label: str, result: dict[str, Any], out: TextIO) -> None:
    print(
        f"{label}: {result.get('path')} ({result.get('size')} bytes) via "
        f"{result.get('method')}, downloaded {result.get('bytes_downloaded')} bytes "
        f"{result.get('bytes_by_source')} in {float(result.get('seconds', 0.0)):.2f} s",
        file=out,
    )


def _publish(settings: DistributorSettings, version: str, image: Path) -> dict[str, Any]:
    """The same pipeline as `distributor publish`: blob, torrent, patches, chunks, manifest."""
    summary_out = io.StringIO()
    publish(settings, SAMPLE_NAME, version, image, "image", as_json=True, out=summary_out)
    record: dict[str, Any] = json.loads(summary_out.getvalue().strip().splitlines()[-1])
    return record


def _update(
    settings: DistributorSettings,
    url: str,
    public_key: str,
    directory: Path,
    base: Path,
    out: TextIO,
) -> bool:
    """Publish sample@1.1 and fetch it into the cache that holds 1.0."""
    updated = directory / "sample-1.1.img"
    changed = write_updated_sample(base, updated)
    record = _publish(settings, UPDATE_VERSION, updated)
    patches = ", ".join(
        f"from {d['from_version']}: {d['size']} bytes" for d in record.get("deltas", [])
    )
    print(
        f"published: {record['name']}@{record['version']} sha256:{record['sha256']} "
        f"({changed} of {record['size']} bytes changed; delta patches: {patches or 'none'})",
        file=out,
    )
    result = _fetch(url, public_key, directory / "cache", out, UPDATE_VERSION)
    if result is None:
        return False
    _describe("updated", result, out)
    return True


def demo(directory: Path, size_mib: int, out: TextIO) -> int:
    server_dir, cache_dir = directory / "server", directory / "cache"
    public_key = str(init_keys(server_dir).public_key)
    sample = directory / "sample.img"
    write_sample_image(sample, size_mib << 20)
    print(f"keys: {server_dir / 'keys'}; public key {public_key}", file=out)
    try:
        with start_local_server(server_dir, dev=True, log_path=directory / "server.log") as server:
            print(f"server: {server.url} (log {server.log_path})", file=out)
            settings = DistributorSettings(data_dir=server_dir, public_url=server.url)
            record = _publish(settings, SAMPLE_VERSION, sample)
            torrent = record.get("torrent") or {}
            print(
                f"published: {record['name']}@{record['version']} sha256:{record['sha256']} "
                f"({record['size']} bytes; torrent v1 {torrent.get('info_hash_v1', '-')}, "
                "chunk index and signed manifest)",
                file=out,
            )
            first = _fetch(server.url, public_key, cache_dir, out)
            if first is None:
                return 1
            _describe("fetched", first, out)
            second = _fetch(server.url, public_key, cache_dir, out)
            if second is None:
                return 1
            _describe("fetched again", second, out)
            if not _update(settings, server.url, public_key, directory, sample, out):
                return 1
    except ServerStartFailed as exc:
        print(str(exc), file=out)
        return 1
    print("server stopped", file=out)
    return 0
