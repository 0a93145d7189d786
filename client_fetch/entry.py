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
- Start-up creates ~80,000 long-lived objects (modules, classes, pydantic and httpx internals)
  and next to no garbage, yet at Python's default threshold (700 new objects) the cyclic
  collector ran dozens of times over them: ~30 ms of the ~200 ms of CPU before the first request,
  ~15 %. `run` raises the young generation's threshold to `GC_YOUNG_THRESHOLD`, so start-up runs
  no collection and a long download few; garbage cycles still get collected, at most that many
  objects late (a swarm fetch of 256 MiB leaves ~1,200 cyclic objects in all, the same number
  on every host whatever its run time).
- pydantic looks for plugins (installed packages' entry points) when it builds its first model:
  ~3 ms here, more on a host with many packages. The fetcher's models need none, so `run` sets
  `PYDANTIC_DISABLE_PLUGINS` unless the environment already says otherwise.
- Once `main` has returned, every file the fetcher wrote is closed and committed, the swarm
  session has sent its tracker `stopped` announce and is gone, and the result is printed. Tearing
  the interpreter down then only frees memory module by module (~50 ms of CPU here, paid by every
  task at once when a swarm finishes together), so `exit_now` flushes the standard streams and
  ends the process at once. If any other Python thread is still alive, it exits the normal way
  instead, so nothing a thread is doing is cut short.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
from typing import NoReturn

UNUSED_OPTIONAL_MODULES = ("trio", "anyio", "httpx._main")
GC_YOUNG_THRESHOLD = 100_000


def run() -> NoReturn:
    prepare_process()
    from client_fetch.cli import main

    exit_now(main())


def prepare_process() -> None:
    """The start-up settings above: GC threshold, no pydantic plugins, unused modules absent."""
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    for name in UNUSED_OPTIONAL_MODULES:
        if name not in sys.modules:
            sys.modules[name] = None  # type: ignore[assignment]


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
