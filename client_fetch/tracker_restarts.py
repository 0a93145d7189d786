"""`TrackerRestarts`: a volunteer's `client-fetch seed` notices when the distributor's tracker
restarted (or came back after an outage) and announces its images again at once.

The tracker keeps its peers in memory, and libtorrent re-announces only every 300 s (longer after
failed announces): without this, a volunteer seeding for an hour was missing from a restarted
tracker for up to five minutes, and the hosts arriving then did not find it. The seeder daemon
learns the tracker's instance from its report answers; a volunteer asks for it every
`period_seconds` (`tracker_instance_path`, a tiny JSON answer). Not responsible for deciding when
an announce is due (`swarm.tracker_watch.TrackerMemoryWatch`) nor for announcing (`reannounce`).
Never raises for what a server answers: an unreachable or older distributor only means no check.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import httpx

from image_format.content_paths import tracker_instance_path
from swarm.tracker_watch import TrackerMemoryWatch

CHECK_SECONDS = 60.0
ASK_TIMEOUT_SECONDS = 2.0
"""httpx's timeout for each phase (connect, each read) of asking one server."""
CHECK_BUDGET_SECONDS = 5.0
"""No further server is asked once a check has taken this long. A seed's stop (SIGTERM) or time
limit waits for a check in progress: a few seconds when servers do not answer (a server that
answers byte by byte could hold it longer; the servers are the project's own)."""


class TrackerRestarts:
    """Asks `servers` (first that answers) for their tracker's instance every `period_seconds`;
    `tick()` is cheap between checks."""

    def __init__(
        self,
        client: httpx.Client,
        servers: Sequence[str],
        reannounce: Callable[[], None],
        *,
        period_seconds: float = CHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._urls = [server.rstrip("/") + tracker_instance_path() for server in servers]
        self._watch = TrackerMemoryWatch(reannounce, clock=clock)
        self._period = period_seconds
        self._clock = clock
        self._next_check: float | None = None
        self._unreachable = False

    def tick(self) -> None:
        """Check now if a period has passed since the last check (the first tick checks)."""
        now = self._clock()
        if self._next_check is not None and now < self._next_check:
            return
        self._next_check = now + self._period
        instance = self._ask()
        if instance is None:
            self._unreachable = True
            return
        if self._unreachable:
            self._unreachable = False
            self._watch.after_outage()
        self._watch.saw_instance(instance)

    def _ask(self) -> str | None:
        """The instance the first answering server names (servers that are mirrors, not
        distributors, answer 404 and are passed over)."""
        deadline = self._clock() + CHECK_BUDGET_SECONDS
        for url in self._urls:
            if self._clock() > deadline:
                break
            try:
                answer = self._client.get(url, timeout=ASK_TIMEOUT_SECONDS)
                if answer.status_code != 200:
                    continue
                body = answer.json()
            except (httpx.HTTPError, ValueError):
                continue
            instance = body.get("tracker_instance") if isinstance(body, dict) else None
            if isinstance(instance, str):
                return instance
        return None
