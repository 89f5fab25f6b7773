"""Progress of a running benchmark, on stderr, so that the figures on stdout stay clean
(``python bench/bench_x.py > figures.txt`` shows the progress and keeps only the figures).

On a terminal a status line is rewritten in place; elsewhere (a log file, CI) a status line is
written at most every ``interval`` seconds. Steps (a phase starting or ending) are always written.
No imports from the hub: bench_ocpp.py uses it without loading the app.

    import progress
    progress.step("loading 10000 Locations")
    progress.status(f"stored {done}/{n}")       # transient
    async with progress.ticking(lambda: f"{calls} calls answered"):
        ...                                     # the line is refreshed every second meanwhile
    progress.clear()
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import TextIO

_T0 = "BENCH_PROGRESS_T0"


class Progress:
    def __init__(self, stream: TextIO | None = None, interval: float = 5.0) -> None:
        # None: whatever sys.stderr is when writing (tests and runners replace it).
        self._stream = stream
        self.interval = interval
        self._shown = False  # a status line is on the terminal
        self._last = -interval  # monotonic time of the last status line (not a terminal)
        # Wall-clock start of the run, shared with the processes it spawns (through the
        # environment) so that their steps count from the same moment.
        self.started = float(os.environ.setdefault(_T0, repr(time.time())))

    @property
    def out(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stderr

    @property
    def tty(self) -> bool:
        try:
            return self.out.isatty()
        except (AttributeError, ValueError):
            return False

    def status(self, text: str) -> None:
        """Where the current phase stands (replaced by the next status or step)."""
        if self.tty:
            self.out.write("\r  " + text + "\x1b[K")
            self._shown = True
        else:
            now = time.monotonic()
            if now - self._last < self.interval:
                return
            self._last = now
            self.out.write("  " + text + "\n")
        self.out.flush()

    def step(self, text: str) -> None:
        """A line that stays: a phase starts or ends (with the time since the start)."""
        line = f"[{time.time() - self.started:6.1f} s] {text}"
        if self.tty:
            self.out.write("\r" + line + "\x1b[K\n")
            self._shown = False
        else:
            self.out.write(line + "\n")
            self._last = time.monotonic()
        self.out.flush()

    def clear(self) -> None:
        """Remove the status line (before the figures are printed)."""
        if self._shown:
            self.out.write("\r\x1b[K")
            self.out.flush()
            self._shown = False

    @contextlib.asynccontextmanager
    async def ticking(self, render: Callable[[], str], every: float = 1.0) -> AsyncIterator[None]:
        """Show ``render()`` as the status every ``every`` seconds while the block runs."""

        async def tick() -> None:
            while True:
                self.status(render())
                await asyncio.sleep(every)

        task = asyncio.create_task(tick())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self.clear()


_default = Progress()
status = _default.status
step = _default.step
clear = _default.clear
ticking = _default.ticking
