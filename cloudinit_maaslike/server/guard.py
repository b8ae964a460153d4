"""Close connections that never send a whole request head.

aiohttp closes a kept-alive connection that stays idle (or sends half a
request head) for its ``keepalive_timeout`` after a response, which the
runner sets to the server's idle timeout.  Before a connection's first
request, aiohttp 3.8 (Debian 12's) has no timer at all, and later versions
only that same idle one: a client could open connections, send nothing or a
few bytes of a header, and hold them for ever.  `HeaderGuard` gives each new
connection `header_timeout` seconds to deliver its first complete request
head (the first middleware reports it), and closes those that do not.

It uses only what aiohttp 3.8 to 3.14 share: the server's ``connections``
and each handler's ``force_close()``.  A sweep runs four times per timeout
(at least once a second), so a connection is closed between `header_timeout`
and two sweeps later (at most two seconds more) after it opened.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Dict, Iterable, Optional, Set

LOG = logging.getLogger(__name__)


class HeaderGuard:
    def __init__(self, header_timeout: float):
        self.header_timeout = header_timeout
        self.interval = max(0.05, min(1.0, header_timeout / 4))
        self._deadlines: Dict[Any, float] = {}  # handler -> when it must have sent a head
        self._served: Set[Any] = set()  # handlers that have sent one
        self._task: Optional[asyncio.Task[None]] = None
        self.closed = 0  # connections closed for want of a head, for tests and logs

    def request_started(self, protocol: Any) -> None:
        """A request head arrived on `protocol`'s connection (called for every request)."""
        if protocol not in self._served:
            self._served.add(protocol)
            self._deadlines.pop(protocol, None)

    def sweep(self, connections: Iterable[Any], now: float) -> None:
        """Close what overstayed; forget connections that are gone."""
        live = set(connections)
        for handler in live - self._served:
            deadline = self._deadlines.setdefault(handler, now + self.header_timeout)
            if now >= deadline:
                handler.force_close()
                self.closed += 1
                LOG.info("closed a connection that sent no request head within %gs", self.header_timeout)
        self._deadlines = {h: d for h, d in self._deadlines.items() if h in live}
        self._served &= live

    async def _run(self, server: Any) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.interval)
            self.sweep(server.connections, loop.time())

    def start(self, server: Any) -> None:
        """Sweep `server` (an aiohttp ``web.Server``) from now on, on the running loop."""
        self._task = asyncio.get_running_loop().create_task(self._run(server))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
