"""Start the stand-in server: in the foreground (`maaslike serve`) or on a
background thread (the demo, tests and benchmarks), on a real socket."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import signal
import threading
from typing import Any, Dict, List, Optional

from aiohttp import web

from ..errors import ConfigError, MaaslikeError
from .api import MetadataAPI
from .app import QuietAccessLogger, make_app
from .diskwriter import DiskWriter
from .guard import HeaderGuard
from .inventory import Node
from .state import ServerOptions, build_api

LOG = logging.getLogger(__name__)
SHUTDOWN_TIMEOUT = 10.0


async def _start(api: MetadataAPI, options: ServerOptions) -> web.AppRunner:
    guard = HeaderGuard(options.header_timeout)
    app = make_app(api, options.clock_offset, options.latency, options.images_dir,
                   max_body_size=options.max_body_size, body_timeout=options.body_timeout, guard=guard)

    async def stop_guard(_app: web.Application) -> None:
        await guard.stop()

    app.on_shutdown.append(stop_guard)
    # A kept-alive connection idle this long after a response (or sending half a
    # request head) is closed by aiohttp; the guard covers a new connection's first head.
    handler_options: Dict[str, Any] = {"keepalive_timeout": options.idle_timeout}
    # On SIGTERM, in-flight requests (an image download) get this long to finish;
    # aiohttp 3.9 moved the setting from the site to the runner.
    if "shutdown_timeout" in inspect.signature(web.BaseRunner.__init__).parameters:
        runner = web.AppRunner(app, access_log_class=QuietAccessLogger, handle_signals=False,
                               shutdown_timeout=SHUTDOWN_TIMEOUT, **handler_options)
        await runner.setup()
        site = web.TCPSite(runner, options.host, options.port, backlog=1024, reuse_address=True)
    else:  # aiohttp 3.8 (Debian 12's python3-aiohttp)
        runner = web.AppRunner(app, access_log_class=QuietAccessLogger, handle_signals=False,
                               **handler_options)
        await runner.setup()
        site = web.TCPSite(runner, options.host, options.port, backlog=1024, reuse_address=True,
                           shutdown_timeout=SHUTDOWN_TIMEOUT)
    await site.start()
    assert runner.server is not None
    guard.start(runner.server)
    return runner


def node_facing_url(options: ServerOptions, port: int) -> Optional[str]:
    """The URL nodes will most likely use, when it can be known before they ask."""
    if options.server_url:
        return options.server_url
    if options.host in ("", "0.0.0.0", "::"):
        return None  # depends on which address each node reaches
    host = f"[{options.host}]" if ":" in options.host else options.host
    return f"http://{host}:{port}"


def prepare_in_background(api: MetadataAPI, url: Optional[str]) -> Optional[threading.Thread]:
    """Build deploying nodes' payloads on a thread while the server already answers."""
    if url is None:
        return None
    nodes = [(node, api.records[node.system_id].status) for node in api.nodes.values()]
    thread = threading.Thread(target=api.documents.prepare, args=(nodes, url),
                              name="maaslike-prepare", daemon=True)
    thread.start()
    return thread


def bound_port(runner: web.AppRunner) -> int:
    for site in runner.sites:
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            return int(server.sockets[0].getsockname()[1])
    raise RuntimeError("server has no listening socket")


def serve_forever(nodes: List[Node], options: ServerOptions) -> None:
    """Run until SIGINT/SIGTERM, then finish in-flight requests and stop."""
    try:
        api = build_api(nodes, options, DiskWriter())
    except OSError as exc:
        raise ConfigError("--state-dir", f"cannot use {options.state_dir}: {exc.strerror or exc}") from None

    async def main() -> None:
        try:
            runner = await _start(api, options)
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise MaaslikeError(f"cannot listen on {options.host}:{options.port}: {reason}") from None
        port = bound_port(runner)
        LOG.warning("serving %d node(s) on http://%s:%d%s", len(nodes), options.host,
                    port, "/MAAS/metadata/")
        prepare_in_background(api, node_facing_url(options, port))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        LOG.warning("shutting down")
        await runner.cleanup()

    try:
        asyncio.run(main())
    finally:
        api.close()


class BackgroundServer:
    """A real server on a thread of its own, for the demo and for tests.

    `port=0` in the options picks a free port; `url` tells which.
    """

    def __init__(self, nodes: List[Node], options: ServerOptions):
        self.api = build_api(nodes, options, DiskWriter())
        self.options = options
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._runner: Optional[web.AppRunner] = None
        self._thread: Optional[threading.Thread] = None
        self.preparing: Optional[threading.Thread] = None
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
                self.preparing = prepare_in_background(self.api, node_facing_url(self.options, self.port))
            except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            # What is left (a connection that closed as the server stopped) ends
            # here, as asyncio.run would end it, rather than be destroyed pending.
            leftover = asyncio.all_tasks(loop)
            for task in leftover:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*leftover, return_exceptions=True))
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
        self.api.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
