"""The `distributor` command: argument parsing, settings wiring, and errors mapped to exit codes.

This is the one place that builds `DistributorSettings` (environment `DISTRIBUTOR_*`, overridden
by flags). Each subcommand lives in `distributor.commands`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from enum import IntEnum
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from distributor.commands.admin_http import AdminRequestFailed
from distributor.errors import (
    DistributorError,
    ImageNotFound,
    SettingsInvalid,
    SigningKeyMissing,
    UnsupportedCatalogUrl,
    VersionConflict,
    VersionNotFound,
    VersionRetired,
    WeakAdminToken,
)
from distributor.settings import DistributorSettings
from distributor.storage.storage_lock import StorageBusy
from image_format.errors import InvalidDigest, InvalidName, KeyFormatError
from image_format.settings_errors import describe_settings_error

GC_GRACE_HOURS = 24.0
"""`gc --grace-hours` unless given."""


class ExitCode(IntEnum):
    OK = 0
    INTERNAL = 1
    USAGE = 2
    CONFLICT = 3
    UNAVAILABLE = 4
    NOT_FOUND = 5


EXIT_CODES_HELP = """exit codes:
  0  ok (also: the same content was already published under NAME VERSION)
  1  internal error (catalog or storage failure, a bug)
  2  usage: bad arguments, invalid name/version, missing or weak key/token, bad configuration
  3  conflict: NAME VERSION is already published with other content, or was retired
  4  upload, retire --server: the server is unreachable or failed (5xx);
     gc: publishes kept the storage busy (try again)
  5  retire only: no such NAME VERSION

environment: DISTRIBUTOR_DATA_DIR, DISTRIBUTOR_HOST, DISTRIBUTOR_PORT, DISTRIBUTOR_ADMIN_TOKEN,
DISTRIBUTOR_DEV_MODE, DISTRIBUTOR_PUBLIC_URL, DISTRIBUTOR_CATALOG_URL, DISTRIBUTOR_MIRROR_URLS,
DISTRIBUTOR_UPLOAD_MAX_BYTES, DISTRIBUTOR_TORRENT_ENABLED, DISTRIBUTOR_TORRENT_FORMAT,
DISTRIBUTOR_TORRENT_PRIVATE (flags override them)"""

USAGE_ERRORS = (
    InvalidName,
    InvalidDigest,
    KeyFormatError,
    SigningKeyMissing,
    WeakAdminToken,
    UnsupportedCatalogUrl,
    SettingsInvalid,
    ValidationError,
)


SETTINGS_FLAGS = {"data": "data_dir", "host": "host", "port": "port", "public_url": "public_url"}
"""Command-line options (argparse `dest`) → the `DistributorSettings` field each one sets."""


def _settings(args: argparse.Namespace) -> DistributorSettings:
    overrides: dict[str, Any] = {}
    for flag, field in SETTINGS_FLAGS.items():
        value = getattr(args, flag, None)
        if value is not None:
            overrides[field] = value
    if getattr(args, "dev", False):
        overrides["dev_mode"] = True
    try:
        return DistributorSettings(**overrides)
    except ValidationError as exc:
        raise SettingsInvalid(
            describe_settings_error(exc, DistributorSettings, SETTINGS_FLAGS)
        ) from exc


def _data_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        type=Path,
        metavar="DIR",
        help="data directory (default: $DISTRIBUTOR_DATA_DIR or ./distributor-data)",
    )


def _kind_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kind",
        choices=["image", "data"],
        default="image",
        help="what is published: a VM image or a data file (default: image)",
    )


def _token_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--token", help="the server's admin token (default: $DISTRIBUTOR_ADMIN_TOKEN)"
    )


def _admin_token(args: argparse.Namespace) -> str | None:
    """--token, else the configured admin token; None (after saying so) when neither is set."""
    token = args.token or _settings(args).admin_token.get_secret_value()
    if not token:
        print(
            f"distributor: {args.command} needs --token or DISTRIBUTOR_ADMIN_TOKEN", file=sys.stderr
        )
    return token or None


def _command(sub: Any, name: str, help_text: str) -> argparse.ArgumentParser:
    """A subcommand whose help ends with the exit codes."""
    parser: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help_text,
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="distributor",
        description="The project server: publish and serve signed images.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    keys = _command(sub, "keys", "the signing key pair")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    for name, text in (
        ("init", "create the key pair unless it exists; print the public key last"),
        ("show", "print the public key"),
    ):
        keys_parser = keys_sub.add_parser(name, help=text, description=text)
        _data_flag(keys_parser)
        keys_parser.add_argument(
            "--export", type=Path, metavar="FILE", help="also write the public key to FILE"
        )

    publish = _command(sub, "publish", "publish a local file into the data directory")
    _data_flag(publish)
    _kind_flag(publish)
    publish.add_argument("--json", action="store_true", help="print one JSON object")
    publish.add_argument(
        "--torrent-format",
        choices=["hybrid", "v1"],
        help="torrent made at publish: hybrid v1+v2 (default, $DISTRIBUTOR_TORRENT_FORMAT) or v1 "
        "for other clients (aria2, Transmission 3)",
    )
    publish.add_argument(
        "--public-url", help="base URL hosts use to reach the server (tracker, web seed)"
    )
    for arg in ("name", "version"):
        publish.add_argument(arg, metavar=arg.upper())
    publish.add_argument("file", type=Path, metavar="FILE")

    retire = _command(
        sub, "retire", "stop listing and serving NAME VERSION (its content stays until gc)"
    )
    _data_flag(retire)
    retire.add_argument(
        "--server", metavar="URL", help="retire on this remote server (admin API), not in --data"
    )
    _token_flag(retire)
    retire.add_argument("--json", action="store_true", help="print one JSON object")
    for arg in ("name", "version"):
        retire.add_argument(arg, metavar=arg.upper())

    gc = _command(
        sub, "gc", "remove stored content that no listed or recently retired version needs"
    )
    _data_flag(gc)
    gc.add_argument(
        "--grace-hours",
        type=float,
        default=GC_GRACE_HOURS,
        help="keep what versions retired less than this ago need, and every file younger than "
        f"this (default {GC_GRACE_HOURS:g}: hosts mid-download, seeders about to drop it)",
    )
    gc.add_argument("--dry-run", action="store_true", help="list what would go; remove nothing")
    gc.add_argument("--json", action="store_true", help="print one JSON object")

    upload = _command(sub, "upload", "publish a local file on a remote server (admin API)")
    upload.add_argument("--server", required=True, metavar="URL")
    _token_flag(upload)
    _kind_flag(upload)
    for arg in ("name", "version"):
        upload.add_argument(arg, metavar=arg.upper())
    upload.add_argument("file", type=Path, metavar="FILE")

    serve = _command(sub, "serve", "run the HTTP API")
    _data_flag(serve)
    serve.add_argument("--host", help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default 8080)")
    serve.add_argument("--public-url", help="base URL hosts use to reach this server")
    serve.add_argument(
        "--dev", action="store_true", help="development mode: allow an empty or weak admin token"
    )

    demo = sub.add_parser("demo", help="publish and fetch a sample image end to end, locally")
    demo.add_argument("--dir", type=Path, default=Path("demo"), help="work directory (./demo)")
    demo.add_argument("--size-mib", type=int, default=8, help="sample image size (default 8)")

    sample = sub.add_parser("sample-image", help="write a generated sample image (for trials)")
    sample.add_argument("--size-mib", type=int, default=8, help="size (default 8)")
    sample.add_argument("file", type=Path, metavar="FILE")
    return parser


def _run(args: argparse.Namespace) -> int:
    out = sys.stdout
    if args.command == "keys":
        from distributor.commands.keys import keys_init, keys_show

        data_dir = _settings(args).data_dir
        run = keys_init if args.keys_command == "init" else keys_show
        return run(data_dir, out, args.export)
    if args.command == "publish":
        from distributor.commands.publish import publish

        if not args.file.is_file():
            print(f"distributor: {args.file} is not a readable file", file=sys.stderr)
            return ExitCode.USAGE
        return publish(
            _settings(args),
            args.name,
            args.version,
            args.file,
            args.kind,
            as_json=args.json,
            out=out,
            torrent_format=args.torrent_format,
        )
    if args.command == "retire":
        from distributor.commands.retire import retire, retire_remote

        if args.server is None:
            if args.token is not None:
                print("distributor: retire --token goes with --server", file=sys.stderr)
                return ExitCode.USAGE
            return retire(_settings(args), args.name, args.version, as_json=args.json, out=out)
        if args.data is not None:
            print("distributor: retire takes --data or --server, not both", file=sys.stderr)
            return ExitCode.USAGE
        if (token := _admin_token(args)) is None:
            return ExitCode.USAGE
        return retire_remote(
            args.server, token, args.name, args.version, as_json=args.json, out=out
        )
    if args.command == "gc":
        from distributor.commands.gc import gc

        if args.grace_hours < 0:
            print("distributor: --grace-hours cannot be negative", file=sys.stderr)
            return ExitCode.USAGE
        return gc(
            _settings(args),
            grace_hours=args.grace_hours,
            dry_run=args.dry_run,
            as_json=args.json,
            out=out,
        )
    if args.command == "upload":
        from distributor.commands.upload import upload

        if not args.file.is_file():
            print(f"distributor: {args.file} is not a readable file", file=sys.stderr)
            return ExitCode.USAGE
        if (token := _admin_token(args)) is None:
            return ExitCode.USAGE
        return upload(args.server, token, args.name, args.version, args.file, args.kind, out)
    if args.command == "serve":
        from distributor.commands.serve import serve

        return serve(_settings(args))
    if args.command == "sample-image":
        from distributor.commands.sample_image import write_sample_image

        write_sample_image(args.file, args.size_mib << 20)
        print(f"wrote {args.file} ({args.size_mib} MiB)", file=out)
        return ExitCode.OK
    from distributor.commands.demo import demo

    return demo(args.dir, args.size_mib, out)


NOT_FOUND_CODES = (VersionNotFound.code, ImageNotFound.code)
"""Error codes of a 404 that means "no such NAME VERSION" (any other 404: a wrong server URL)."""


def _remote_exit(exc: AdminRequestFailed) -> ExitCode:
    if exc.status == 409:
        return ExitCode.CONFLICT
    if exc.status == 404 and exc.code in NOT_FOUND_CODES:
        return ExitCode.NOT_FOUND
    if exc.status is not None and 400 <= exc.status < 500:
        return ExitCode.USAGE
    return ExitCode.UNAVAILABLE


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(_run(args))
    except (VersionConflict, VersionRetired) as exc:
        print(f"distributor: {exc}", file=sys.stderr)
        return ExitCode.CONFLICT
    except VersionNotFound as exc:
        print(f"distributor: {exc}", file=sys.stderr)
        return ExitCode.NOT_FOUND
    except USAGE_ERRORS as exc:
        print(f"distributor: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except StorageBusy as exc:
        print(f"distributor: {exc}", file=sys.stderr)
        return ExitCode.UNAVAILABLE
    except AdminRequestFailed as exc:
        print(f"distributor: {exc}", file=sys.stderr)
        return _remote_exit(exc)
    except DistributorError as exc:
        print(f"distributor: {exc}", file=sys.stderr)
        return ExitCode.INTERNAL
    except KeyboardInterrupt:
        return 130
