"""Progress for people (a bar on a terminal) and for task wrappers (a fraction-done file).

The progress file holds one number between 0 and 1, the form BOINC's wrapper reads through
`<fraction_done_filename>`; it is replaced atomically so a reader never sees half a number.
Not responsible for what is being counted: sources call `advance(bytes)`.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TextIO

_REDRAW_SECONDS = 0.2
_FILE_SECONDS = 1.0


def _human(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if count < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"


class Progress:
    """Counts bytes towards `total`; draws a bar when `stream` is a terminal."""

    def __init__(
        self,
        label: str,
        total: int,
        *,
        stream: TextIO | None = None,
        progress_file: Path | None = None,
    ) -> None:
        self.label = label
        self.total = max(total, 0)
        self.done = 0
        self._stream = stream if stream is not None and stream.isatty() else None
        self._file = progress_file
        self._start = time.monotonic()
        self._last_draw = 0.0
        self._last_file = 0.0
        self._write_file(0.0, force=True)

    @classmethod
    def for_terminal(cls, label: str, total: int, progress_file: Path | None) -> Progress:
        return cls(label, total, stream=sys.stderr, progress_file=progress_file)

    def set_done(self, done: int) -> None:
        self.done = min(max(done, 0), self.total)
        self._refresh()

    def advance(self, count: int) -> None:
        self.set_done(self.done + count)

    def fraction(self) -> float:
        return 1.0 if self.total == 0 else self.done / self.total

    def finish(self) -> None:
        self.done = self.total
        self._write_file(1.0, force=True)
        if self._stream is not None:
            self._draw()
            self._stream.write("\n")
            self._stream.flush()

    def _refresh(self) -> None:
        now = time.monotonic()
        if self._stream is not None and now - self._last_draw >= _REDRAW_SECONDS:
            self._last_draw = now
            self._draw()
        if now - self._last_file >= _FILE_SECONDS:
            self._last_file = now
            self._write_file(self.fraction())

    def _draw(self) -> None:
        assert self._stream is not None
        elapsed = max(time.monotonic() - self._start, 1e-6)
        rate = self.done / elapsed
        width = 30
        filled = int(width * self.fraction())
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        line = (
            f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] "
            f"{self.fraction() * 100:5.1f}% {_human(self.done)}/{_human(self.total)} "
            f"{_human(rate)}/s ETA {eta:4.0f}s"
        )
        self._stream.write(line)
        self._stream.flush()

    def _write_file(self, fraction: float, *, force: bool = False) -> None:
        if self._file is None:
            return
        tmp = self._file.with_name(f".{self._file.name}.tmp-{os.getpid()}")
        try:
            tmp.write_text(f"{fraction:.4f}\n", encoding="ascii")
            os.replace(tmp, self._file)
        except OSError:
            if force:
                raise
