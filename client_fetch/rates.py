"""Measured transfer rates per method, remembered between runs, for the planner's time estimates.

A small JSON file beside the cache's own folders (`<cache>/rates.json`): bytes per second per
method as an exponential moving average of completed fetches. A configured rate stands in until a
method has been measured. Not responsible for choosing sources. Errors: none escape; an unreadable
or unwritable file behaves like an empty one (the rates are hints).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from pathlib import Path

SMOOTHING = 0.3
MIN_MEASURED_BYTES = 1 << 20


class RateBook:
    """Bytes-per-second per method: measured (moving average) or the configured default."""

    def __init__(self, path: Path, defaults: dict[str, float]) -> None:
        self.path = path
        self._defaults = defaults
        self._measured: dict[str, float] = {}
        with contextlib.suppress(OSError, ValueError, TypeError):
            loaded = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(loaded, dict):  # valid JSON of another shape is damage too
                self._measured = _positive_rates(loaded)

    def rate(self, method: str) -> tuple[float, bool]:
        """(bytes per second, measured?)."""
        if method in self._measured:
            return self._measured[method], True
        return self._defaults.get(method, self._defaults.get("http", 1e7)), False

    def record(self, method: str, moved_bytes: int, seconds: float) -> None:
        if moved_bytes < MIN_MEASURED_BYTES or seconds <= 0:
            return
        observed = moved_bytes / seconds
        previous = self._measured.get(method)
        self._measured[method] = (
            observed if previous is None else SMOOTHING * observed + (1 - SMOOTHING) * previous
        )
        tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        with contextlib.suppress(OSError):
            tmp.write_text(json.dumps(self._measured, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self.path)


def _positive_rates(loaded: dict[object, object]) -> dict[str, float]:
    """The finite positive numbers in `loaded`, by method; anything else is left out."""
    rates = {}
    for method, value in loaded.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            rate = float(value)
            if 0 < rate < math.inf:
                rates[str(method)] = rate
    return rates
