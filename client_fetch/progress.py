"""Progress for people (a bar on a terminal) and for task wrappers (a fraction-done file).

The progress file holds one number between 0 and 1, the form BOINC's wrapper reads through
`<fraction_done_filename>`; it is replaced atomically so a reader never sees half a number.
Its place is checked before a `get` does anything (`check_progress_file`: a missing directory is
the job's mistake, a usage error, on a cache hit and a miss alike); after that, writing it is best
effort: a failed write (the directory removed, the disk full) is reported once on stderr (not
under `--quiet`) and never fails or cuts short a fetch, which goes on to commit, pin and record
the image.
Not responsible for what is being counted: sources call `advance(bytes)`.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path
from typing import TextIO

from client_fetch.errors import UsageError

_REDRAW_SECONDS = 0.2
_FILE_SECONDS = 1.0


def _human(count: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if count < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} TiB"


def check_progress_file(path: Path) -> None:
    """Raise `UsageError` unless `path` can be a progress file: its directory exists (and is
    writable), and `path` is not a directory."""
    folder = path.parent
    if not folder.is_dir():
        raise UsageError(f"--progress-file {path}: no such directory {folder}")
    if path.is_dir():
        raise UsageError(f"--progress-file {path} is a directory")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"--progress-file {path}: cannot write in {folder}")


class Progress:
    """Counts bytes towards `total`; draws a bar when `stream` is a terminal."""

    def __init__(
        self,
        label: str,
        total: int,
        *,
        stream: TextIO | None = None,
        progress_file: Path | None = None,
        quiet: bool = False,
    ) -> None:
        """`quiet`: a failed progress-file write is not reported either (`get --quiet`)."""
        self.label = label
        self.total = max(total, 0)
        self.done = 0
        self._stream = stream if stream is not None and stream.isatty() else None
        self._file = progress_file
        self._start = time.monotonic()
        self._last_draw = 0.0
        self._last_file = 0.0
        self._file_failed = False
        self._quiet = quiet
        self._write_file(0.0)

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
        self._write_file(1.0)
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

    def _write_file(self, fraction: float) -> None:
        """Best effort: a failure is reported once and never raised (see the module docstring)."""
        if self._file is None:
            return
        tmp = self._file.with_name(f".{self._file.name}.tmp-{os.getpid()}")
        try:
            tmp.write_text(f"{fraction:.4f}\n", encoding="ascii")
            os.replace(tmp, self._file)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            if not self._file_failed and not self._quiet:
                self._file_failed = True
                print(
                    f"client-fetch: warning: cannot write the progress file {self._file}: {exc}",
                    file=sys.stderr,
                )
