"""Progress of long transfers: bytes, rate and ETA, every few seconds.

Written to the install log and, through `notify`, sent as an event, so an
operator watching MAAS (or our server) sees an image download move.
"""

from __future__ import annotations

import time
from typing import Callable, Optional

MiB = 1 << 20


def _eta(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


class Progress:
    def __init__(self, what: str, total: Optional[int], notify: Callable[[str], None],
                 interval: float = 3.0, clock: Callable[[], float] = time.monotonic):
        self.what = what
        self.total = total
        self.notify = notify
        self.interval = interval
        self.clock = clock
        self.started = clock()
        self.last = self.started
        self.done = 0

    def add(self, count: int) -> None:
        self.done += count
        now = self.clock()
        if now - self.last >= self.interval:
            self.last = now
            self.notify(self.line(now))

    def line(self, now: Optional[float] = None) -> str:
        now = self.clock() if now is None else now
        elapsed = max(now - self.started, 1e-6)
        rate = self.done / elapsed
        text = f"{self.what}: {self.done / MiB:.1f} MiB"
        if self.total:
            share = min(100.0, 100.0 * self.done / self.total)
            text += f" of {self.total / MiB:.1f} MiB ({share:.0f}%)"
        text += f", {rate / MiB:.1f} MiB/s"
        if self.total and rate > 0 and self.done < self.total:
            text += f", ETA {_eta((self.total - self.done) / rate)}"
        return text

    def finish(self) -> None:
        now = self.clock()
        self.notify(self.line(now).replace(", ETA", ", was ETA") + f" - done in {now - self.started:.1f} s")
