"""The `client-fetch` process's entry point (the console script and `python -m client_fetch`).

What it is for: preparing the process before the CLI loads, then running it. Not responsible for
arguments, output or exit codes (`client_fetch.cli`).

The task wrapper starts a fetcher per task, often several on one host at once, so start-up time
is paid many times over. httpcore imports `trio` and `anyio` whenever they are installed, and
httpx imports its command line's packages (click, pygments, rich); the fetcher is synchronous and
uses none of them, which saved ~60 ms of a ~250 ms start where they were installed. Marking them
absent makes those imports fail fast, and the libraries fall back as they do when the packages
are missing. A module already imported stays as it is.
"""

from __future__ import annotations

import sys

UNUSED_OPTIONAL_MODULES = ("trio", "anyio", "httpx._main")


def run() -> None:
    for name in UNUSED_OPTIONAL_MODULES:
        if name not in sys.modules:
            sys.modules[name] = None  # type: ignore[assignment]
    from client_fetch.cli import main

    sys.exit(main())
