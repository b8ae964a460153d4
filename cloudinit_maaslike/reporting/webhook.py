"""Post events to a `reporting:` webhook without ever stalling the install.

Events go onto a queue that one background (daemon) thread posts in order,
OAuth-signed like the datasource's requests (same clock-skew handling).  Each
post has a timeout and a bounded number of retries; after a few events in a
row fail outright the endpoint is considered dead and later events are
dropped at once.  `flush` waits a bounded time at the end: a slow or dead
endpoint costs the install at most a few seconds in all.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlsplit

from ..clockskew import ServerClock
from ..config.model import Webhook
from ..httpclient import HttpClient, TransportError
from ..oauth import Signer
from .events import Event

LOG = logging.getLogger(__name__)

DEAD_AFTER = 3  # events in a row that failed every retry
_STOP = object()


@dataclass
class PostStats:
    sent: int = 0
    failed: int = 0
    dropped: int = 0


class WebhookPoster:
    def __init__(self, hook: Webhook, clock: ServerClock, client: Optional[HttpClient] = None,
                 user_agent: str = "cloudinit-maaslike", dead: bool = False):
        self.hook = hook
        self.signer = Signer(hook.credentials, clock) if hook.credentials else None
        self.client = client or HttpClient(user_agent=user_agent)
        self.stats = PostStats()
        self._queue: queue.Queue[object] = queue.Queue()
        self._failures_in_row = 0
        self._dead = dead  # known dead from an earlier process of the same install
        self._thread = threading.Thread(target=self._work, name=f"webhook-{hook.name}", daemon=True)
        self._thread.start()

    @property
    def dead(self) -> bool:
        return self._dead

    def post(self, event: Event) -> None:
        if self._dead:
            self.stats.dropped += 1
            return
        self._queue.put(event)

    def flush(self, timeout: float) -> PostStats:
        """Wait until every queued event is handled, or `timeout` has passed.

        An endpoint that could not keep up within `timeout` is given up on:
        waiting again at the next flush would only stall the install more.
        """
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and not self._dead:
            if time.monotonic() >= deadline:
                LOG.warning("reporting %s: %d event(s) not sent after %.0f s; giving up on %s",
                            self.hook.name, self._queue.unfinished_tasks, timeout,
                            urlsplit(self.hook.endpoint).netloc)
                self._dead = True
                break
            time.sleep(0.005)
        return self.stats

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                if self._dead:
                    self.stats.dropped += 1
                    continue
                assert isinstance(item, Event)
                if self._send(item):
                    self.stats.sent += 1
                    self._failures_in_row = 0
                else:
                    self.stats.failed += 1
                    self._failures_in_row += 1
                    if self._failures_in_row >= DEAD_AFTER:
                        self._dead = True
                        LOG.warning("reporting %s: %s unreachable; dropping further events",
                                    self.hook.name, urlsplit(self.hook.endpoint).netloc)
            finally:
                self._queue.task_done()

    def _send(self, event: Event) -> bool:
        body = json.dumps(event.as_dict()).encode("utf-8")
        url = self.hook.endpoint
        skew_retried = False
        attempt = 0
        while True:
            headers = {"Content-Type": "application/json"}
            sent_ts = 0
            if self.signer is not None:
                headers["Authorization"], sent_ts = self.signer.sign(url, "POST")
            try:
                response = self.client.request("POST", url, headers=headers, body=body,
                                               timeout=self.hook.timeout)
            except TransportError as exc:
                why = exc.reason
            else:
                if 200 <= response.status < 300:
                    return True
                if (response.status in (401, 403) and self.signer is not None and not skew_retried
                        and self.signer.clock.learn(urlsplit(url).netloc,
                                                    response.headers.get("Date"), sent_ts)):
                    skew_retried = True
                    continue
                why = f"HTTP {response.status}"
                if response.status < 500 and response.status != 429:
                    LOG.warning("reporting %s: event %s refused (%s)", self.hook.name, event.name, why)
                    return False
            attempt += 1
            if attempt > self.hook.retries:
                LOG.warning("reporting %s: event %s not sent (%s)", self.hook.name, event.name, why)
                return False
            time.sleep(min(1.0, 0.1 * 2 ** (attempt - 1)))
