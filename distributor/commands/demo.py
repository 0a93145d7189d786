"""`distributor demo`: the whole job on embedded defaults, end to end on this machine.

Makes a key in DIR/server, starts `distributor serve --dev` on a free loopback port, publishes a
generated sample image as sample@1.0, fetches it with `client-fetch get ... --json` into DIR/cache
(twice: the second is a cache hit), prints what happened, and stops the server with SIGTERM.
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
from distributor.commands.sample_image import write_sample_image
from distributor.keys import init_keys
from distributor.local_server import ServerStartFailed, start_local_server
from distributor.settings import DistributorSettings

SAMPLE_NAME, SAMPLE_VERSION = "sample", "1.0"
FETCH_TIMEOUT_S = 300


def client_fetch_command() -> list[str]:
    """The client-fetch console script installed next to this Python, else the one on PATH."""
    beside = Path(sys.executable).parent / "client-fetch"
    found = str(beside) if beside.exists() else shutil.which("client-fetch")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from client_fetch.cli import main; sys.exit(main())"]


def _fetch(url: str, public_key: str, cache: Path, out: TextIO) -> dict[str, Any] | None:
    args = [
        *client_fetch_command(),
        "get",
        f"{SAMPLE_NAME}@{SAMPLE_VERSION}",
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


def demo(directory: Path, size_mib: int, out: TextIO) -> int:
    server_dir, cache_dir = directory / "server", directory / "cache"
    public_key = str(init_keys(server_dir).public_key)
    sample = directory / "sample.img"
    write_sample_image(sample, size_mib << 20)
    print(f"keys: {server_dir / 'keys'}; public key {public_key}", file=out)
    try:
        with start_local_server(server_dir, dev=True, log_path=directory / "server.log") as server:
            print(f"server: {server.url} (log {server.log_path})", file=out)
            # The same pipeline as `distributor publish`: blob, torrent, chunks, signed manifest.
            settings = DistributorSettings(data_dir=server_dir, public_url=server.url)
            summary_out = io.StringIO()
            publish(
                settings,
                SAMPLE_NAME,
                SAMPLE_VERSION,
                sample,
                "image",
                as_json=True,
                out=summary_out,
            )
            record = json.loads(summary_out.getvalue().strip().splitlines()[-1])
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
    except ServerStartFailed as exc:
        print(str(exc), file=out)
        return 1
    print("server stopped", file=out)
    return 0
