"""The `client-fetch` command line. Standard library only: a cache hit must not pay for imports."""

from __future__ import annotations

import argparse
import re

from client_fetch.via import VIA_CHOICES

EXIT_CODES_HELP = """exit codes:
  0  ok: the image is in the cache, verified; its path is printed
  2  bad usage or configuration, e.g. --out names a directory (do not retry)
  3  no such image or version on the servers (do not retry)
  4  verification failed: bad signature, wrong key, or content that never verified
     (retry later, alert the project)
  5  every server or source failed or stalled (retry later)
  6  host cache or --out place unusable: disk full, permissions, lock timeout (retry later)
  1  internal error (a bug: please report it)
"""

_SIZE = re.compile(r"(?i)\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*")
_UNITS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4}


def parse_size(text: str) -> int:
    """'20GiB', '500M', '1.5T', '123' → bytes (KiB/MiB/… are binary, K/M/… decimal)."""
    match = _SIZE.fullmatch(text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 20GiB or 500M)")
    number, unit = float(match.group(1)), (match.group(2) or "").lower()
    binary = unit.endswith("ib") or unit.endswith("i")
    base = unit[:1] if unit[:1] in "kmgt" else ""
    factor = (1024 ** " kmgt".index(base)) if binary and base else _UNITS[base]
    return int(number * factor)


def _add_cache_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cache", metavar="DIR", help="host cache directory (env CLIENT_FETCH_CACHE_DIR)"
    )


def _add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="client-fetch",
        description="Fetch verified VM images and task data for a volunteer-computing task.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    get = commands.add_parser(
        "get",
        help="get NAME[@VERSION] into the host cache and print its path",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    get.add_argument("ref", metavar="NAME[@VERSION]", help="image; without @VERSION the latest")
    get.add_argument(
        "--server",
        action="append",
        metavar="URL",
        help="distributor or mirror base URL; repeat for failover (env CLIENT_FETCH_SERVERS)",
    )
    get.add_argument(
        "--key", help="trusted public key 'ed25519:...' or a key file (env CLIENT_FETCH_KEY)"
    )
    _add_cache_option(get)
    get.add_argument("--out", metavar="PATH", help="also place the image here (hard link or copy)")
    get.add_argument("--copy", action="store_true", help="with --out: always a writable copy")
    _add_json_option(get)
    get.add_argument(
        "--via",
        choices=VIA_CHOICES,
        default="auto",
        help="auto: the cheapest way by the planner's rules (see `plan`); others force one",
    )
    get.add_argument("--pin", metavar="TASK", help="pin the image for this task (see unpin)")
    get.add_argument("--progress-file", metavar="FILE", help="write the fraction done (0..1) here")
    get.add_argument(
        "--stall-timeout", type=float, metavar="SECONDS", help="no bytes this long fails a server"
    )
    get.add_argument("--quota", type=parse_size, metavar="SIZE", help="cache quota, e.g. 20GiB")
    get.add_argument("--quiet", action="store_true", help="no progress bar or summary")

    plan = commands.add_parser(
        "plan", help="show how `get` would fetch NAME[@VERSION], with estimates, moving nothing"
    )
    plan.add_argument("ref", metavar="NAME[@VERSION]")
    plan.add_argument("--server", action="append", metavar="URL")
    plan.add_argument("--key", help="trusted public key or key file")
    _add_cache_option(plan)
    plan.add_argument("--via", choices=VIA_CHOICES, default="auto")
    _add_json_option(plan)

    seed = commands.add_parser(
        "seed",
        help="opt-in: serve cached images to the swarm within an upload cap and a time/ratio limit",
    )
    seed.add_argument("--server", action="append", metavar="URL", help="where torrents come from")
    seed.add_argument("--key", help="trusted public key or key file")
    _add_cache_option(seed)
    seed.add_argument("--upload-limit", type=parse_size, metavar="RATE", help="bytes/s, e.g. 2M")
    seed.add_argument("--max-seconds", type=float, help="stop after this long (default 3600)")
    seed.add_argument("--max-ratio", type=float, help="stop once each image uploaded R x its size")
    seed.add_argument("--listen", metavar="IP:PORT", help="libtorrent listen address")
    _add_json_option(seed)

    pin = commands.add_parser("pin", help="pin a cached image for a task so it is never evicted")
    pin.add_argument("task", help="task id ([A-Za-z0-9._-])")
    pin.add_argument("ref", metavar="NAME@VERSION")
    _add_cache_option(pin)

    unpin = commands.add_parser("unpin", help="release a task's pins (all of them without REF)")
    unpin.add_argument("task")
    unpin.add_argument("ref", nargs="?", metavar="NAME@VERSION")
    _add_cache_option(unpin)

    cache = commands.add_parser("cache", help="inspect and maintain the host cache")
    cache_commands = cache.add_subparsers(dest="cache_command", required=True, metavar="ACTION")
    for action, text in (
        ("ls", "list cached images with size, last use, names and pins"),
        ("verify", "re-hash cached images; quarantine those that fail"),
        ("gc", "drop stale partial downloads and expired pins, then apply the quota"),
    ):
        sub = cache_commands.add_parser(action, help=text)
        _add_cache_option(sub)
        _add_json_option(sub)
        if action == "gc":
            sub.add_argument("--quota", type=parse_size, metavar="SIZE", help="cache quota")
    return parser
