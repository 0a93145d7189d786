"""`python -m tests.netns cleanup [--prefix P]`: remove leftovers of killed test runs.

Removes only topologies whose owner process is dead (see `state.cleanup_stale`); prints the ids
it removed. Exit code 0 on success, 1 when something could not be removed.
"""

from __future__ import annotations

import argparse

from tests.netns.names import DEFAULT_PREFIX
from tests.netns.state import StaleCleanupError, cleanup_stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.netns")
    sub = parser.add_subparsers(dest="command", required=True)
    clean = sub.add_parser("cleanup", help="remove namespaces/bridges/veths of dead test runs")
    clean.add_argument("--prefix", default=DEFAULT_PREFIX)
    args = parser.parse_args(argv)
    try:
        removed = cleanup_stale(args.prefix)
    except StaleCleanupError as exc:
        print(exc)
        return 1
    for topology_id in removed:
        print(f"removed {topology_id}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
