"""`client-fetch`: the command the task wrapper runs. Translates every error into an exit code.

Heavy imports (pydantic, httpx) happen inside the handlers, after the cache-hit fast path had its
chance, so a hit answers quickly; modules a handler needs only on some paths (the fetch report)
are imported on those paths, so a miss starts moving bytes sooner.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from client_fetch.cli_args import build_parser
from client_fetch.errors import CacheError, ExitCode, FetchError, UsageError
from client_fetch.fetch_result import FetchResult
from image_format.errors import InvalidDigest, InvalidName
from image_format.names import ImageRef

if TYPE_CHECKING:
    from client_fetch.cache import HostCache
    from client_fetch.settings import ClientSettings

PROGRESS_FILE_ENV = "CLIENT_FETCH_PROGRESS_FILE"


def _emit_result(result: FetchResult, args: argparse.Namespace) -> None:
    if args.out:
        from client_fetch.placement import place

        place(result.path, Path(args.out), copy=args.copy)
        result = FetchResult(**{**result.__dict__, "placed_at": Path(args.out)})
    if result.over_quota_bytes and not args.quiet:
        print(
            f"client-fetch: warning: the cache is {result.over_quota_bytes} bytes over its quota "
            "and holds nothing it may evict (images in use, pinned, or just fetched); "
            "raise CLIENT_FETCH_CACHE_QUOTA_BYTES (--quota) or unpin finished tasks",
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps(result.to_json(), sort_keys=True))
        return
    print(result.placed_at or result.path)
    if not args.quiet:
        moved = f"{result.bytes_downloaded} bytes" if result.bytes_downloaded else "nothing"
        print(
            f"client-fetch: {result.name}@{result.version} sha256:{result.digest[:12]} "
            f"({result.size} bytes) via {result.method}, moved {moved} in {result.seconds:.2f}s",
            file=sys.stderr,
        )


def _settings(args: argparse.Namespace) -> ClientSettings:
    from pydantic import ValidationError

    from client_fetch.settings import ClientSettings
    from image_format.settings_errors import describe_settings_error

    overrides: dict[str, Any] = {}
    options: dict[str, str] = {}
    for flag, field in (
        ("server", "servers"),
        ("key", "key"),
        ("cache", "cache_dir"),
        ("progress_file", "progress_file"),
        ("stall_timeout", "stall_timeout_seconds"),
        ("quota", "cache_quota_bytes"),
        ("upload_limit", "seed_upload_limit_bytes_per_second"),
        ("max_seconds", "seed_max_seconds"),
        ("max_ratio", "seed_max_ratio"),
        ("listen", "swarm_listen_interfaces"),
    ):
        if hasattr(args, flag):
            options[flag] = field
        value = getattr(args, flag, None)
        if value is not None:
            overrides[field] = value
    try:
        return ClientSettings(**overrides)
    except ValidationError as exc:
        raise UsageError(describe_settings_error(exc, ClientSettings, options)) from exc


def _get(args: argparse.Namespace) -> int:
    ref = ImageRef.parse(args.ref)
    # Checked before the fast path, so a cache hit and a miss treat a bad place alike (the
    # environment's value too: the fast path loads no settings).
    progress_file = args.progress_file or os.environ.get(PROGRESS_FILE_ENV)
    if progress_file:
        from client_fetch.progress import check_progress_file

        check_progress_file(Path(progress_file))
    if ref.version and args.cache and args.key:
        from client_fetch.fast_path import try_cache_hit

        hit = try_cache_hit(Path(args.cache), ref.name, ref.version, args.key, args.pin)
        if hit is not None:
            _emit_result(hit, args)
            return ExitCode.OK
    from client_fetch.wiring import fetcher_for, rate_book

    settings = _settings(args)
    if settings.progress_file is not None:
        from client_fetch.progress import check_progress_file

        check_progress_file(settings.progress_file)
    show_progress = not (args.quiet or args.json)
    fetching = fetcher_for(settings, args.via, show_progress=show_progress, quiet=args.quiet)
    with fetching as (fetcher, client):
        result = fetcher.get(ref, pin_task=args.pin)
        if settings.report_fetches:
            # Imported here: the report's schema is only needed once the image is in.
            from client_fetch.fetch_reporter import report_from_result, send_report

            send_report(client, settings.servers, report_from_result(result, settings.servers))
    if result.method != "cache":
        rate_book(settings).record(result.method, result.bytes_downloaded, result.seconds)
    _emit_result(result, args)
    return ExitCode.OK


def _plan(args: argparse.Namespace) -> int:
    from client_fetch.plan_report import build_report, cached_report
    from client_fetch.wiring import fetcher_for, rate_book

    settings = _settings(args)
    # every_estimate: the report says why each source could not serve, whatever --via.
    assembled = fetcher_for(settings, args.via, show_progress=False, every_estimate=True)
    with assembled as (fetcher, _):
        manifest, plan = fetcher.plan(ImageRef.parse(args.ref))
    report = (
        cached_report(manifest)
        if plan is None
        else build_report(manifest, plan, rate_book(settings))
    )
    print(json.dumps(report.to_json(), sort_keys=True) if args.json else report.to_text())
    return ExitCode.OK


def _seed(args: argparse.Namespace) -> int:
    from dataclasses import asdict, replace

    from client_fetch import seeding
    from client_fetch.trust import TrustStore
    from client_fetch.wiring import http_client, open_cache, swarm_config, trusted_keys

    settings = _settings(args)
    cache = open_cache(settings)  # none yet is "nothing to seed": a fresh host's seed job is fine
    trust = TrustStore(settings.ca_file)
    config = replace(
        swarm_config(settings, ca_file=trust.checked_path()),
        upload_rate_limit_bytes_per_second=settings.seed_upload_limit_bytes_per_second,
    )
    limits = seeding.SeedLimits(settings.seed_max_seconds, settings.seed_max_ratio)
    with http_client(settings, trust) as client:
        outcome = seeding.seed(
            cache, trusted_keys(settings), client, settings.servers, config, limits
        )
    if args.json:
        print(json.dumps(asdict(outcome), default=str, sort_keys=True))
    else:
        seeding.print_outcome(outcome)
    return ExitCode.OK


def _existing_cache(settings: ClientSettings) -> HostCache:
    """The host cache for commands that use what it holds: a mistyped `--cache` is not an empty
    cache (`CacheError`; `get` creates the directory, `seed` finds nothing to seed)."""
    from client_fetch.wiring import open_cache

    cache = open_cache(settings)
    if not cache.root.is_dir():
        raise CacheError(
            str(cache.root),
            "no such directory (get creates it; check --cache or CLIENT_FETCH_CACHE_DIR)",
        )
    return cache


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "get":
        return _get(args)
    if args.command == "seed":
        return _seed(args)
    if args.command == "plan":
        return _plan(args)
    from client_fetch import cli_cache
    from client_fetch.cache import validate_task

    if args.command in ("pin", "unpin"):
        # usage errors (task id, NAME without @VERSION) alike for both, before the cache is opened
        validate_task(args.task)
        ref = cli_cache.versioned_ref(args.ref) if args.ref else None
        cache = _existing_cache(_settings(args))
        if args.command == "pin" and ref is not None:  # argparse requires pin's ref
            return cli_cache.pin(cache, args.task, ref)
        return cli_cache.unpin(cache, args.task, ref)
    return cli_cache.run(_existing_cache(_settings(args)), args.cache_command, as_json=args.json)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    as_json = bool(getattr(args, "json", False))
    try:
        return _dispatch(args)
    except (FetchError, InvalidName, InvalidDigest) as exc:
        code = exc.exit_code if isinstance(exc, FetchError) else ExitCode.USAGE
        if as_json:
            error = {
                "error": ExitCode(code).name.lower(),
                "detail": str(exc),
                "exit_code": int(code),
            }
            print(json.dumps(error, sort_keys=True))
        print(f"client-fetch: error: {exc}", file=sys.stderr)
        return int(code)
    except KeyboardInterrupt:
        print("client-fetch: interrupted; a rerun resumes the download", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
