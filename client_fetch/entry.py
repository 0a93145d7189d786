"""The `client-fetch` process's entry point (the console script and `python -m client_fetch`).

What it is for: preparing the process before the CLI loads, running it, and ending the process.
Not responsible for arguments, output or exit codes (`client_fetch.cli`).

The task wrapper starts a fetcher per task, often several on one host at once, so start-up and
exit time are paid many times over.

- httpcore imports `trio` and `anyio` whenever they are installed, and httpx imports its command
  line's packages (click, pygments, rich); the fetcher is synchronous and uses none of them, which
  saved ~60 ms of a ~250 ms start where they were installed. Marking them absent makes those
  imports fail fast, and the libraries fall back as they do when the packages are missing. A
  module already imported stays as it is.
- Once `main` has returned, every file the fetcher wrote is closed and committed, the swarm
  session has sent its tracker `stopped` announce and is gone, and the result is printed. Tearing
  the interpreter down then only frees memory module by module (~50 ms of CPU here, paid by every
  task at once when a swarm finishes together), so `exit_now` flushes the standard streams and
  ends the process at once. If any other Python thread is still alive, it exits the normal way
  instead, so nothing a thread is doing is cut short.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import NoReturn

UNUSED_OPTIONAL_MODULES = ("trio", "anyio", "httpx._main")


def run() -> NoReturn:
    for name in UNUSED_OPTIONAL_MODULES:
        if name not in sys.modules:
            sys.modules[name] = None  # type: ignore[assignment]
    from client_fetch.cli import main

    exit_now(main())


def exit_now(code: int) -> NoReturn:
    """End the process with `code` without the interpreter's teardown (atexit handlers, module
    cleanup), unless another thread is alive or a standard stream cannot be flushed: then exit
    normally, so the thread finishes and a broken pipe is reported as usual."""
    if threading.active_count() > 1:
        sys.exit(code)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        sys.exit(code)
    os._exit(code)
