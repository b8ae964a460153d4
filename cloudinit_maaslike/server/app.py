"""aiohttp wiring for the stand-in server.

aiohttp (the `server` extra) is an asyncio server that holds hundreds of
concurrent nodes on one core and serves images with sendfile; the client side
of this project never imports it.
"""

from __future__ import annotations

import asyncio
import logging
import re
from email.utils import formatdate
from typing import Awaitable, Callable, Dict

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from .api import PREFIX, Answer, MetadataAPI, Request

LOG = logging.getLogger(__name__)
ACCESS_LOG = logging.getLogger("cloudinit_maaslike.server.access")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_OAUTH_QUERY_RE = re.compile(r"(oauth_[a-z_]+)=[^&\s]*")


class QuietAccessLogger(AbstractAccessLogger):
    """Method, path, status, time: never a header, never an OAuth parameter."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        target = _OAUTH_QUERY_RE.sub(r"\1=…", request.path_qs)
        self.logger.info(
            "%s %s %s %d %.1fms",
            request.remote, request.method, target, response.status, time * 1000,
        )


async def _to_request(request: web.Request) -> Request:
    form: Dict[str, str] = {}
    files: Dict[str, bytes] = {}
    body = b""
    if request.method == "POST":
        if request.content_type.startswith("multipart/"):
            data = await request.post()
            for key, value in data.items():
                if isinstance(value, web.FileField):
                    files[value.filename or key] = value.file.read()
                else:
                    form[key] = str(value)
        else:
            body = await request.read()
            if request.content_type == "application/x-www-form-urlencoded":
                data = await request.post()
                form = {k: str(v) for k, v in data.items()}
    return Request(
        method=request.method,
        path=request.path,
        query=dict(request.query.items()),
        headers=request.headers,
        url=str(request.url),
        server_url=f"{request.scheme}://{request.host}",
        body=body,
        form=form,
        files=files,
    )


def _to_response(answer: Answer) -> web.Response:
    content_type, _, charset = answer.content_type.partition("; charset=")
    response = web.Response(status=answer.status, body=answer.body or None,
                            headers=answer.headers)
    if answer.status != 204:
        response.content_type = content_type
        if charset:
            response.charset = charset
    return response


def make_app(api: MetadataAPI, clock: Callable[[], float], latency: float = 0.0) -> web.Application:
    @web.middleware
    async def stamp(request: web.Request, handler: Handler) -> web.StreamResponse:
        if latency:
            await asyncio.sleep(latency)
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            response = exc
        # The Date header is how a node learns the server's clock (skew).
        response.headers["Date"] = formatdate(clock(), usegmt=True)
        return response

    async def metadata(request: web.Request) -> web.StreamResponse:
        answer = api.handle(await _to_request(request))
        return _to_response(answer)

    async def node_view(request: web.Request) -> web.StreamResponse:
        return _to_response(api.node_view(request.match_info["system_id"]))

    app = web.Application(middlewares=[stamp], client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", PREFIX, metadata)
    app.router.add_route("*", PREFIX + "/{tail:.*}", metadata)
    app.router.add_get("/maaslike/nodes/{system_id}/events", node_view)
    return app
