"""aiohttp wiring for the stand-in server.

aiohttp (the `server` extra) is an asyncio server that holds hundreds of
concurrent nodes on one core and serves images with sendfile; the client side
of this project never imports it.

What one client may cost is bounded here: a request body's size (413 past
`max_body_size`, checked on Content-Length first) and the time it takes to
arrive (408 past `body_timeout`); a body aiohttp cannot parse as the form it
claims to be is a 400 with one line.  Connections that never send a request
head are closed by `guard.HeaderGuard`, which the first middleware feeds.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from email.utils import formatdate
from typing import IO, Awaitable, Callable, Dict, List, Optional, Tuple

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from .api import PREFIX, Answer, MetadataAPI, Request
from .guard import HeaderGuard
from .images import add_image_routes
from .state import DEFAULT_BODY_TIMEOUT, DEFAULT_MAX_BODY_SIZE

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


class BodyRefused(Exception):
    """A request the server will not read; `answer` says why, `close` whether to hang up
    (else aiohttp reads and drops what is left of the body, for a while, so that the
    client, still sending, gets to read the answer)."""

    def __init__(self, answer: Answer, close: bool = False):
        super().__init__(answer.body.decode("utf-8", "replace"))
        self.answer = answer
        self.close = close


def _too_large(limit: int) -> BodyRefused:
    return BodyRefused(Answer.text(413, f"Request body larger than this server's cap of {limit} bytes."))


Files = List[Tuple[str, IO[bytes]]]


async def _read_body(request: web.Request, max_body_size: int) -> Tuple[bytes, Dict[str, str], Files]:
    """(body, form fields, files); `BodyRefused` when too big or not the form it claims to be."""
    form: Dict[str, str] = {}
    files: Files = []
    body = b""
    if request.content_length is not None and request.content_length > max_body_size:
        raise _too_large(max_body_size)  # before a byte of it is read
    try:
        if request.content_type.startswith("multipart/"):
            # aiohttp spools file parts to temporary files, within client_max_size.
            data = await request.post()
            for key, value in data.items():
                if isinstance(value, web.FileField):
                    # MAAS keys uploaded results by the form field's name.
                    files.append((key, value.file))
                else:
                    form[key] = str(value)
        else:
            body = await request.read()
            if request.content_type == "application/x-www-form-urlencoded":
                data = await request.post()
                form = {k: str(v) for k, v in data.items()}
    except web.HTTPRequestEntityTooLarge:
        raise _too_large(max_body_size) from None
    except (ValueError, LookupError, AssertionError) as exc:
        # A malformed multipart body, an unknown charset, bytes that are not in it.
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise BodyRefused(Answer.text(400, f"Malformed {request.content_type} body: {reason}")) from None
    return body, form, files


async def _to_request(request: web.Request, max_body_size: int, body_timeout: float) -> Request:
    body: bytes = b""
    form: Dict[str, str] = {}
    files: Files = []
    if request.method == "POST":
        try:
            body, form, files = await asyncio.wait_for(_read_body(request, max_body_size), body_timeout)
        except asyncio.TimeoutError:
            raise BodyRefused(Answer.text(408, f"Request body not received within {body_timeout:g} s."),
                              close=True) from None
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
             images_dir: Optional[str] = None, *, max_body_size: int = DEFAULT_MAX_BODY_SIZE,
             body_timeout: float = DEFAULT_BODY_TIMEOUT, guard: Optional[HeaderGuard] = None) -> web.Application:
    """The application; `clock_offset` and `latency` are for tests and benchmarks."""

    @web.middleware
    async def note_request(request: web.Request, handler: Handler) -> web.StreamResponse:
        """The connection has sent a whole request head: the header guard lets it be."""
        assert guard is not None
        guard.request_started(request.protocol)
        return await handler(request)

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
        try:
            mapped = await _to_request(request, max_body_size, body_timeout)
        except BodyRefused as refused:
            LOG.info("refused %s %s: %s", request.method, request.path, refused)
            response = _to_response(refused.answer)
            if refused.close:
                # Answer, then hang up at once: aiohttp would otherwise linger,
                # waiting for the rest of a body that is not coming.
                response.force_close()
                await response.prepare(request)
                await response.write_eof()
                request.protocol.force_close()  # the transport sends what it holds, then closes
            return response
        if api.is_slow(mapped):
            # A preseed or payload to build first (tens of ms): on a worker
            # thread, so the loop keeps answering the other nodes meanwhile.
            answer = await asyncio.get_running_loop().run_in_executor(None, api.handle, mapped)
        else:
            answer = api.handle(mapped)
        return _to_response(answer)

    async def node_view(request: web.Request) -> web.StreamResponse:
        return _to_response(api.node_view(request.match_info["system_id"]))

    # aiohttp sends the real Date itself; `pretend` costs time on every request
    # (`note_request` is a set lookup).
    middlewares = [note_request] if guard is not None else []
    if latency or clock_offset:
        middlewares.append(pretend)
    app = web.Application(middlewares=middlewares, client_max_size=max_body_size)
    app.router.add_route("*", PREFIX, metadata)
    app.router.add_route("*", PREFIX + "/{tail:.*}", metadata)
    app.router.add_get("/maaslike/nodes/{system_id}/events", node_view)
    if images_dir:
        add_image_routes(app, images_dir)
    return app
