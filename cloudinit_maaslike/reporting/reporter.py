"""One reporter for the whole install: log lines, webhooks, and the final signal.

The engine calls `start`/`finish` (or the `event` context manager); every
event is logged to the install log and queued to each webhook.  Webhook
posting happens in the background (see `webhook`), so reporting never adds
the endpoint's latency to the install.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Dict, Iterator, List, Mapping, Optional, Sequence

from ..clockskew import ServerClock
from ..config.model import InstallConfig
from .events import FAIL, FINISH, START, SUCCESS, Event, PostedFile
from .maas_signal import send_signal
from .webhook import PostStats, WebhookPoster

LOG = logging.getLogger("cloudinit_maaslike.install")

FLUSH_TIMEOUT = 5.0


class Reporter:
    def __init__(self, config: InstallConfig, clock: Optional[ServerClock] = None,
                 logger: logging.Logger = LOG, dead_hooks: Sequence[str] = ()):
        self.config = config
        self.clock = clock or ServerClock()
        self.logger = logger
        self.posters: List[WebhookPoster] = [
            WebhookPoster(h, self.clock, dead=h.name in dead_hooks) for h in config.webhooks
        ]
        self.sent: List[Event] = []  # what was reported, for the install report and tests

    def emit(self, event: Event) -> None:
        self.sent.append(event)
        if self.config.log_reporting:
            level = logging.WARNING if event.result == FAIL else logging.INFO
            self.logger.log(level, "%s", event.log_line())
        for poster in self.posters:
            poster.post(event)

    def start(self, name: str, description: str) -> None:
        self.emit(Event(name, description, START))

    def finish(self, name: str, description: str, result: str = SUCCESS,
               files: Sequence[PostedFile] = (), extra: Optional[Mapping[str, object]] = None) -> None:
        self.emit(Event(name, description, FINISH, result=result, files=tuple(files),
                        extra=tuple((extra or {}).items())))

    @contextlib.contextmanager
    def event(self, name: str, description: str) -> Iterator[None]:
        """start, then finish with SUCCESS, or FAIL if the block raises."""
        self.start(name, description)
        try:
            yield
        except BaseException:
            self.finish(name, description, FAIL)
            raise
        self.finish(name, description, SUCCESS)

    def flush(self, timeout: float = FLUSH_TIMEOUT) -> Dict[str, PostStats]:
        """Wait (bounded, shared by all hooks) for queued events to be sent."""
        deadline = time.monotonic() + timeout
        return {p.hook.name: p.flush(max(0.0, deadline - time.monotonic())) for p in self.posters}

    def dead_hooks(self) -> List[str]:
        return [p.hook.name for p in self.posters if p.dead]

    def signal(self, status: str, error: str = "", files: Optional[Mapping[str, bytes]] = None) -> None:
        """The legacy `reporter: maas:` signal, if configured."""
        legacy = self.config.legacy_reporter
        if legacy is not None:
            send_signal(legacy, status, error, files, clock=self.clock)
