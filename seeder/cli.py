"""The `seeder` command: `seeder run`, flags over `SEEDER_*` environment variables.

Exit codes: 0 stopped cleanly, 2 bad usage or configuration (missing URL/key, bad key, cannot
listen), 1 internal error.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from image_format.errors import KeyFormatError
from image_format.settings_errors import describe_settings_error
from seeder.daemon import run_seeder
from seeder.settings import SeederSettings
from swarm.errors import SwarmError

FLAGS = {
    "distributor": "distributor_url",
    "data": "data_dir",
    "key": "key",
    "listen": "listen_interfaces",
    "seeder_id": "seeder_id",
    "poll_seconds": "poll_seconds",
    "report_seconds": "report_seconds",
    "token": "distributor_token",
    "upload_limit": "upload_rate_limit_bytes_per_second",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seeder", description="Seed every published image version to the swarm."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="seed until SIGTERM/SIGINT",
        epilog="environment: SEEDER_DISTRIBUTOR_URL, SEEDER_DATA_DIR, SEEDER_KEY, "
        "SEEDER_LISTEN_INTERFACES, SEEDER_SEEDER_ID, SEEDER_POLL_SECONDS, SEEDER_REPORT_SECONDS, "
        "SEEDER_DISTRIBUTOR_TOKEN, SEEDER_UPLOAD_RATE_LIMIT_BYTES_PER_SECOND (flags override)",
    )
    run.add_argument("--distributor", metavar="URL", help="the distributor's base URL")
    run.add_argument(
        "--data", type=Path, metavar="DIR", help="storage; the distributor's data dir if co-located"
    )
    run.add_argument("--key", help="public key ed25519:... or a key file")
    run.add_argument("--listen", metavar="IP:PORT", help="listen interfaces (0.0.0.0:6881)")
    run.add_argument("--seeder-id", metavar="ID", help="unique name (default: host name)")
    run.add_argument("--poll-seconds", type=float, help="catalog poll interval (5)")
    run.add_argument("--report-seconds", type=float, help="stats report interval (10)")
    run.add_argument("--token", help="bearer token for reports ($SEEDER_DISTRIBUTOR_TOKEN)")
    run.add_argument("--upload-limit", type=int, metavar="BYTES_PER_S", help="0: unlimited")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s seeder %(levelname)s %(message)s", stream=sys.stderr
    )
    given = {flag: getattr(args, flag) for flag in FLAGS}
    overrides: dict[str, Any] = {FLAGS[f]: v for f, v in given.items() if v is not None}
    try:
        settings = SeederSettings(**overrides)
    except ValidationError as exc:
        print(f"seeder: {describe_settings_error(exc, SeederSettings, FLAGS)}", file=sys.stderr)
        return 2
    try:
        return run_seeder(settings)
    except (ValidationError, KeyFormatError, SwarmError) as exc:
        print(f"seeder: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
