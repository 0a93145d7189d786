"""`OutageLog`: a failure that repeats every poll is logged when it starts, as a reminder now and
then while it lasts, and when it ends, instead of once per poll.

Not responsible for retrying (its caller polls). Never raises.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

REMIND_SECONDS = 300.0


class OutageLog:
    """Logs the outage of `what` (e.g. "the catalog") to `log` at warning level."""

    def __init__(
        self,
        log: logging.Logger,
        what: str,
        *,
        remind_seconds: float = REMIND_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = log
        self._what = what
        self._remind = remind_seconds
        self._clock = clock
        self._failures = 0
        self._started = 0.0
        self._last_logged = 0.0

    def failed(self, reason: object) -> None:
        now = self._clock()
        self._failures += 1
        if self._failures == 1:
            self._started = self._last_logged = now
            self._log.warning("cannot reach %s: %s", self._what, reason)
        elif now - self._last_logged >= self._remind:
            self._last_logged = now
            self._log.warning(
                "still cannot reach %s after %.0f s (%d failures): %s",
                self._what, now - self._started, self._failures, reason,
            )  # fmt: skip

    def succeeded(self) -> bool:
        """Record a success; True when it ends an outage."""
        ended = self._failures > 0
        if ended:
            self._log.warning(
                "%s is reachable again after %.0f s (%d failures)",
                self._what, self._clock() - self._started, self._failures,
            )  # fmt: skip
        self._failures = 0
        return ended
