"""Typed errors of the fetcher and the exit code each maps to at the CLI boundary.

Exit codes (documented in the README and docs/boinc.md):

====  ======================  ==========================================================
code  name                    meaning / what a task wrapper should do
====  ======================  ==========================================================
0     OK                      the image is in the cache, verified; its path was printed
2     USAGE                   bad arguments or configuration (fix the job, do not retry),
                              including an --out that is a directory or lies under a file
3     NOT_FOUND               the server has no such image or version (do not retry)
4     VERIFICATION_FAILED     bad/missing signature, wrong key, manifest for something
                              else, or content whose digest never matched (retry later;
                              alert the project)
5     UNAVAILABLE             every server / source failed or stalled (retry later)
6     CACHE_ERROR             the host cache, or the --out place, cannot be used: disk
                              full, permissions, lock timeout (retry later)
1     INTERNAL                a bug: please report it
====  ======================  ==========================================================
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    INTERNAL = 1
    USAGE = 2
    NOT_FOUND = 3
    VERIFICATION_FAILED = 4
    UNAVAILABLE = 5
    CACHE_ERROR = 6


class FetchError(Exception):
    """Base of the fetcher's errors; `exit_code` is what the CLI exits with."""

    exit_code: ExitCode = ExitCode.INTERNAL


class UsageError(FetchError):
    """Bad arguments or configuration."""

    exit_code = ExitCode.USAGE


class ImageNotFound(FetchError):
    """No server knows the image or version (every server answered 404)."""

    exit_code = ExitCode.NOT_FOUND

    def __init__(self, ref: str) -> None:
        super().__init__(f"{ref}: no such image or version on any server")
        self.ref = ref


class VerificationFailed(FetchError):
    """The manifest or the content could not be verified against the trusted keys."""

    exit_code = ExitCode.VERIFICATION_FAILED

    def __init__(self, ref: str, reason: str) -> None:
        super().__init__(f"{ref}: verification failed: {reason}")
        self.ref = ref
        self.reason = reason


class SourceUnavailable(FetchError):
    """A source cannot serve this image now (missing, unreachable, stalled): try the next one."""

    exit_code = ExitCode.UNAVAILABLE

    def __init__(self, source: str, reason: str, *, not_found: bool = False) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source
        self.reason = reason
        self.not_found = not_found


class AllSourcesFailed(FetchError):
    """Every source was tried and none produced a verified image."""

    exit_code = ExitCode.UNAVAILABLE

    def __init__(self, ref: str, failures: list[str]) -> None:
        lines = "\n  ".join(_counted(failures)) if failures else "no source could serve it"
        super().__init__(f"{ref}: every source failed:\n  {lines}")
        self.ref = ref
        self.failures = failures


def _counted(failures: list[str]) -> list[str]:
    """Each distinct failure once, in first-seen order, with how often it happened (retry rounds
    repeat the same one)."""
    counts: dict[str, int] = {}
    for failure in failures:
        counts[failure] = counts.get(failure, 0) + 1
    return [f"{text} ({n} attempts)" if n > 1 else text for text, n in counts.items()]


class TrustStoreError(UsageError):
    """The CA bundle (`CLIENT_FETCH_CA_FILE`, else certifi's) cannot be read or holds no
    certificate."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"CA bundle {path}: {reason}")
        self.path = path
        self.reason = reason


class CacheError(FetchError):
    """The host cache cannot be used (disk full, permissions, lock timeout, bad layout)."""

    exit_code = ExitCode.CACHE_ERROR

    def __init__(self, cache_dir: str, reason: str) -> None:
        super().__init__(f"host cache {cache_dir}: {reason}")
        self.cache_dir = cache_dir
        self.reason = reason


class PlacementError(FetchError):
    """The image is cached and verified but could not be placed at `--out`.

    `exit_code` is USAGE when the path itself is wrong (a directory, under a file, too long) and
    CACHE_ERROR when the place cannot be written now (disk full, permissions, I/O)."""

    def __init__(self, out: str, reason: str, *, usage: bool) -> None:
        super().__init__(f"cannot place the image at {out}: {reason}")
        self.out = out
        self.reason = reason
        self.exit_code = ExitCode.USAGE if usage else ExitCode.CACHE_ERROR
