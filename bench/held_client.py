"""`client-fetch`, held just before it adds its torrent until the bench releases every host at once.

    python -m bench.held_client HOLD_DIR CLIENT-FETCH-ARGUMENTS...

What it is for: the swarm benchmark's "start-up not shared" row. Its N hosts are namespaces on
one machine, so their N start-ups (interpreter, imports, settings, manifest and torrent fetched
and checked; ~0.3 s of CPU each) share that machine's CPUs, and the origin sends nothing until
the first of them is done: with 8 hosts on 2 CPUs that is 4x what a host of its own pays. This
launcher runs the unchanged `client-fetch` command; the one thing it adds is a wait inside
`SwarmSession.add_download`: it writes `HOLD_DIR/ready-PID` and waits for `HOLD_DIR/release`.
A torrent added again later in the same download (a rejoin) finds the release there and does
not wait.

Not responsible for timing anything or for releasing the hosts (`bench.swarm_hosts` does both).
Errors: those of `client-fetch`, unchanged (its exit code is this process's).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

READY_PREFIX = "ready-"
RELEASE_NAME = "release"
POLL_SECONDS = 0.001


def hold_before_adding(hold_dir: Path) -> None:
    """Make every `SwarmSession.add_download` of this process wait for `hold_dir`'s release."""
    from swarm.session import SwarmSession

    add_download = SwarmSession.add_download
    release = hold_dir / RELEASE_NAME

    def held(self: SwarmSession, *args: Any, **kwargs: Any) -> Any:
        (hold_dir / f"{READY_PREFIX}{os.getpid()}").touch()
        while not release.exists():
            time.sleep(POLL_SECONDS)
        return add_download(self, *args, **kwargs)

    SwarmSession.add_download = held  # type: ignore[method-assign]


def main() -> None:
    from client_fetch import entry

    if len(sys.argv) < 2:
        sys.exit("usage: python -m bench.held_client HOLD_DIR CLIENT-FETCH-ARGUMENTS...")
    hold_dir = Path(sys.argv[1])
    sys.argv = ["client-fetch", *sys.argv[2:]]
    entry.prepare_process()  # as `client-fetch` does, before anything else is imported
    hold_before_adding(hold_dir)
    entry.run()


if __name__ == "__main__":
    main()
