"""Bounded, randomised exponential backoff between passes over a list of servers."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delay before retry round `n` (0-based): uniform in [d/2, d], d = min(max, initial * 2**n).

    "Full jitter" halves the thundering herd of thousands of hosts retrying one origin at once.
    Not responsible for deciding whether to retry: callers bound the number of rounds.
    """

    initial_seconds: float
    max_seconds: float
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, round_index: int) -> float:
        ceiling = min(self.max_seconds, self.initial_seconds * (2**round_index))
        return self.rng.uniform(ceiling / 2, ceiling)

    def wait(self, round_index: int) -> None:
        self.sleep(self.delay(round_index))
