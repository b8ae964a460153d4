"""aiohttp wiring for the stand-in server.

aiohttp (the `server` extra) is an asyncio server that holds hundreds of
concurrent nodes on one core and serves images with sendfile; the client side
of this project never imports it.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from email.utils import formatdate
from typing import Awaitable, Callable, Dict, List, Optional, Tuple

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from .api import PREFIX, Answer, MetadataAPI, Request
from .images import add_image_routes

LOG = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_OAUTH_QUERY_RE = re.compile(r"(oauth_[a-z_]+)=[^&\s]*")


class QuietAccessLogger(AbstractAccessLogger):
    """Method, path, status, time: never a header, never an OAuth parameter."""

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        target = request.path_qs
        if "oauth_" in target:
            target = _OAUTH_QUERY_RE.sub(r"\1=…", target)
        self.logger.info(
            "%s %s %s %d %.1fms",
            request.remote, request.method, target, response.status, time * 1000,
        )


async def _to_request(request: web.Request) -> Request:
    form: Dict[str, str] = {}
    files: List[Tuple[str, bytes]] = []
    body = b""
    if request.method == "POST":
        if request.content_type.startswith("multipart/"):
            data = await request.post()
            for key, value in data.items():
                if isinstance(value, web.FileField):
                    # MAAS keys uploaded results by the form field's name.
                    files.append((key, value.file.read()))
                else:
                    form[key] = str(value)
        else:
            body = await request.read()
            if request.content_type == "application/x-www-form-urlencoded":
                data = await request.post()
                form = {k: str(v) for k, v in data.items()}
    origin = f"{request.scheme}://{request.host}"
    return Request(
        method=request.method,
        path=request.path,
        query=dict(request.query) if request.query_string else {},
        headers=request.headers,
        url=origin + request.raw_path,  # as the client wrote it, which HMAC signs
        server_url=origin,
        body=body,
        form=form,
        files=files,
    )


def _to_response(answer: Answer) -> web.Response:
    headers = answer.headers or None
    if answer.status == 204:
        return web.Response(status=204, headers=headers)
    content_type, _, charset = answer.content_type.partition("; charset=")
    return web.Response(status=answer.status, body=answer.body, content_type=content_type,
                        charset=charset or None, headers=headers)


def make_app(api: MetadataAPI, clock_offset: float = 0.0, latency: float = 0.0,
             images_dir: Optional[str] = None) -> web.Application:
    """The application; `clock_offset` and `latency` are for tests and benchmarks."""

    @web.middleware
    async def pretend(request: web.Request, handler: Handler) -> web.StreamResponse:
        """A slower server, or one whose clock is off (its Date header says so)."""
        if latency:
            await asyncio.sleep(latency)
        date = formatdate(time.time() + clock_offset, usegmt=True)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            exc.headers["Date"] = date
            raise
        response.headers["Date"] = date
        return response

    async def metadata(request: web.Request) -> web.StreamResponse:
        mapped = await _to_request(request)
        if api.is_slow(mapped):
            # A preseed or payload to build first (tens of ms): on a worker
            # thread, so the loop keeps answering the other nodes meanwhile.
            answer = await asyncio.get_running_loop().run_in_executor(None, api.handle, mapped)
        else:
            answer = api.handle(mapped)
        return _to_response(answer)

    async def node_view(request: web.Request) -> web.StreamResponse:
        return _to_response(api.node_view(request.match_info["system_id"]))

    # aiohttp sends the real Date itself; the middleware costs time on every request.
    middlewares = [pretend] if (latency or clock_offset) else []
    app = web.Application(middlewares=middlewares, client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", PREFIX, metadata)
    app.router.add_route("*", PREFIX + "/{tail:.*}", metadata)
    app.router.add_get("/maaslike/nodes/{system_id}/events", node_view)
    if images_dir:
        add_image_routes(app, images_dir)
    return app
