"""Start the stand-in server: in the foreground (`maaslike serve`) or on a
background thread (the demo, tests and benchmarks), on a real socket."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from typing import Any, Callable, List, Optional

from aiohttp import web

from .api import MetadataAPI
from .app import QuietAccessLogger, make_app
from .inventory import Node
from .state import ServerOptions, build_api

LOG = logging.getLogger(__name__)


def _clock(options: ServerOptions) -> Callable[[], float]:
    offset = options.clock_offset
    return (lambda: time.time() + offset) if offset else time.time


async def _start(api: MetadataAPI, options: ServerOptions) -> web.AppRunner:
    app = make_app(api, _clock(options), options.latency)
    runner = web.AppRunner(app, access_log_class=QuietAccessLogger, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, options.host, options.port, backlog=1024, reuse_address=True)
    await site.start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    for site in runner.sites:
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            return int(server.sockets[0].getsockname()[1])
    raise RuntimeError("server has no listening socket")


def serve_forever(nodes: List[Node], options: ServerOptions) -> None:
    """Run until SIGINT/SIGTERM, then finish in-flight requests and stop."""
    api = build_api(nodes, options)

    async def main() -> None:
        runner = await _start(api, options)
        LOG.warning("serving %d node(s) on http://%s:%d%s", len(nodes), options.host,
                    bound_port(runner), "/MAAS/metadata/")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        LOG.warning("shutting down")
        await runner.cleanup()

    asyncio.run(main())


class BackgroundServer:
    """A real server on a thread of its own, for the demo and for tests.

    `port=0` in the options picks a free port; `url` tells which.
    """

    def __init__(self, nodes: List[Node], options: ServerOptions):
        self.api = build_api(nodes, options)
        self.options = options
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._runner: Optional[web.AppRunner] = None
        self._thread: Optional[threading.Thread] = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{self.options.host}:{self.port}"

    def start(self) -> BackgroundServer:
        ready = threading.Event()
        failure: List[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                self._runner = loop.run_until_complete(_start(self.api, self.options))
                self.port = bound_port(self._runner)
            except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name="maaslike-server", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop = None

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
