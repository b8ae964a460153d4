"""A small keep-alive HTTP/1.1 client on the standard library's http.client.

Why not requests: importing it costs about 60 ms more than http.client on
the machines we boot (chardet, cookiejar, urllib3), which is a third of the
whole-process budget of `maaslike crawl`, and a crawl needs none of what it
adds.  What this client keeps from requests' behaviour:

* connections are kept alive and reused (a thread-safe pool per host);
* one timeout bounds the connect and every read;
* a request may also carry a `deadline` (a `time.monotonic()` instant) that
  bounds the whole exchange, headers and body: a server that drips a byte
  just inside the read timeout is cut off there (a watchdog thread shuts the
  socket down), and a `max_bytes` cap on the body, checked while reading, so
  an endless answer ends in an error instead of a MemoryError;
* proxies from the environment (``http_proxy``/``https_proxy``/``no_proxy``)
  are honoured, HTTPS verifies certificates with the system's CAs;
* redirects are followed (up to 5), and an ``Authorization`` header is never
  sent to a different host than the one it was made for;
* a kept-alive connection the server has meanwhile closed is replaced
  transparently, once.

Failures are `TransportError` with a short, secret-free reason;
`DeadlineExceeded` and `TooLarge` are the two kinds a caller may treat apart.
"""

from __future__ import annotations

import heapq
import http.client
import itertools
import os
import socket
import ssl
import threading
import time
import urllib.request
from dataclasses import dataclass
from email.message import Message
from typing import Dict, List, Mapping, Optional, Tuple
from urllib.parse import urljoin, urlsplit

MAX_REDIRECTS = 5
_REDIRECTS = (301, 302, 303, 307, 308)
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)

Key = Tuple[str, str, int, Optional[str]]  # scheme, host, port, proxy


class TransportError(Exception):
    """No HTTP answer: `reason` says why in a few words."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class DeadlineExceeded(TransportError):
    """The answer was not complete by the request's deadline."""


class TooLarge(TransportError):
    """The body is larger than the caller's cap: not worth retrying."""

    def __init__(self, reason: str, limit: int):
        self.limit = limit
        super().__init__(reason)


BODY_PIECE = 1 << 16


class _Guard:
    """One watched connection: cut at `deadline` unless released before."""

    def __init__(self, deadline: float, conn: http.client.HTTPConnection):
        self.deadline = deadline
        self.conn = conn
        self.fired = False
        self._done = False
        self._lock = threading.Lock()

    def fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self._done = self.fired = True
            sock = self.conn.sock
        if sock is not None:
            try:  # the plain socket's shutdown: an SSLSocket's would drop its state under a reader
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass

    def release(self) -> bool:
        """Stop watching; True when the deadline already cut the connection."""
        with self._lock:
            self._done = True
            return self.fired


class _Watchdog:
    """One daemon thread for the whole process, cutting connections past their deadline.

    A blocked ``recv`` cannot be given a deadline, only a timeout per call;
    shutting the socket down from another thread wakes it up at once.
    """

    def __init__(self) -> None:
        self._order = itertools.count()
        self.reset()

    def reset(self) -> None:
        """Also in a forked child: the parent's thread is not there, start afresh when needed."""
        self._cond = threading.Condition()
        self._heap: List[Tuple[float, int, _Guard]] = []
        self._thread: Optional[threading.Thread] = None

    def watch(self, deadline: float, conn: http.client.HTTPConnection) -> _Guard:
        guard = _Guard(deadline, conn)
        with self._cond:
            earliest = self._heap[0][0] if self._heap else None
            heapq.heappush(self._heap, (deadline, next(self._order), guard))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="http-deadlines", daemon=True)
                self._thread.start()
            elif earliest is None or deadline < earliest:
                self._cond.notify()
        return guard

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                deadline, _, guard = self._heap[0]
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
            guard.fire()


_WATCHDOG = _Watchdog()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_WATCHDOG.reset)


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Message
    body: bytes
    url: str

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def _past(deadline: Optional[float], guard: Optional[_Guard] = None) -> bool:
    return deadline is not None and ((guard is not None and guard.fired) or time.monotonic() >= deadline)


def _late(started: float, got: int) -> DeadlineExceeded:
    return DeadlineExceeded(f"answer not complete by the deadline ({got} bytes in "
                            f"{time.monotonic() - started:.1f} s)")


def _read_body(response: http.client.HTTPResponse, max_bytes: Optional[int],
               deadline: Optional[float], started: float, guard: Optional[_Guard] = None) -> bytes:
    """The whole body, piece by piece: the cap and the deadline are checked as it comes."""
    if max_bytes is not None and response.length is not None and response.length > max_bytes:
        response.close()
        raise TooLarge(f"body of {response.length} bytes is over the {max_bytes}-byte limit", max_bytes)
    pieces: List[bytes] = []
    got = 0
    while True:
        try:
            piece = response.read1(BODY_PIECE)
        except (OSError, http.client.HTTPException):
            if _past(deadline, guard):
                raise _late(started, got) from None
            raise
        if not piece:
            if guard is not None and guard.fired and response.length != 0:
                raise _late(started, got)  # the end is the watchdog's cut, not the server's
            break
        got += len(piece)
        if max_bytes is not None and got > max_bytes:
            response.close()
            raise TooLarge(f"body is over the {max_bytes}-byte limit", max_bytes)
        pieces.append(piece)
        if deadline is not None and time.monotonic() >= deadline:
            raise _late(started, got)
    if response.length:  # Content-Length promised more than came
        raise http.client.IncompleteRead(b"", response.length)
    response.close()
    return b"".join(pieces)


def describe(exc: BaseException) -> str:
    """A few words for a socket-level failure, safe to log."""
    if isinstance(exc, TransportError):
        return exc.reason
    if isinstance(exc, socket.timeout):
        return "no answer within the read timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    if isinstance(exc, (http.client.RemoteDisconnected, BrokenPipeError, http.client.IncompleteRead)):
        return "server closed the connection"
    if isinstance(exc, socket.gaierror):
        return "host name not found"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error ({exc.reason or type(exc).__name__})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return type(exc).__name__


def _proxy_for(scheme: str, host: str) -> Optional[str]:
    proxies = urllib.request.getproxies()
    proxy = proxies.get(scheme)
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    return proxy


class Stream:
    """An open response: `read` pieces, then `close`."""

    def __init__(self, status: int, headers: Message, url: str,
                 response: http.client.HTTPResponse, conn: http.client.HTTPConnection):
        self.status = status
        self.headers = headers
        self.url = url
        self._response = response
        self._conn = conn

    def read(self, size: int) -> bytes:
        try:
            return self._response.read(size)
        except (OSError, http.client.HTTPException) as exc:
            raise TransportError(describe(exc)) from None

    def read_some(self, size: int, timeout: Optional[float] = None) -> bytes:
        """What arrives next, at most `size` bytes, with at most one wait on the socket.

        `timeout` bounds that wait (the socket's timeout otherwise); b'' is the
        end of the body.  A body that ends short of its Content-Length is a
        `TransportError`, never a quiet end.
        """
        try:
            if timeout is not None and self._conn.sock is not None:
                self._conn.sock.settimeout(max(timeout, 0.001))
            data = self._response.read1(size)
        except (OSError, http.client.HTTPException) as exc:
            raise TransportError(describe(exc)) from None
        if not data and self._response.length:
            raise TransportError("server closed the connection")
        return data

    def readinto(self, buffer: memoryview) -> int:
        try:
            return self._response.readinto(buffer)
        except (OSError, http.client.HTTPException) as exc:
            raise TransportError(describe(exc)) from None

    def close(self) -> None:
        """Safe from another thread: a read blocked on the socket returns at once."""
        sock = self._conn.sock
        if sock is not None:
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass
        self._conn.close()


class HttpClient:
    """Thread-safe; share one per crawl (or per process) to reuse connections."""

    def __init__(self, user_agent: str = "cloudinit-maaslike"):
        self.user_agent = user_agent
        self._idle: Dict[Key, List[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._ssl: Optional[ssl.SSLContext] = None

    def _context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl

    def _key(self, url: str) -> Key:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise TransportError(f"unsupported URL {url!r}")
        port = parts.port or (443 if scheme == "https" else 80)
        return scheme, parts.hostname, port, _proxy_for(scheme, parts.hostname)

    def _connect(self, key: Key, timeout: float) -> http.client.HTTPConnection:
        scheme, host, port, proxy = key
        if proxy:
            p = urlsplit(proxy if "://" in proxy else "http://" + proxy)
            via_host, via_port = p.hostname or "", p.port or 3128
            if scheme == "https":
                conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                    via_host, via_port, timeout=timeout, context=self._context())
                conn.set_tunnel(host, port)
                return conn
            return http.client.HTTPConnection(via_host, via_port, timeout=timeout)
        if scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=timeout, context=self._context())
        return http.client.HTTPConnection(host, port, timeout=timeout)

    def _checkout(self, key: Key, timeout: float) -> Tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            idle = self._idle.get(key)
            if idle:
                conn = idle.pop()
                conn.timeout = timeout
                if conn.sock is not None:
                    conn.sock.settimeout(timeout)
                return conn, True
        return self._connect(key, timeout), False

    def _checkin(self, key: Key, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            self._idle.setdefault(key, []).append(conn)

    def _once(self, method: str, url: str, headers: Mapping[str, str], body: Optional[bytes],
              timeout: float, deadline: Optional[float], max_bytes: Optional[int]) -> HttpResponse:
        key = self._key(url)
        parts = urlsplit(url)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        if key[3] and key[0] == "http":
            target = url  # a plain-HTTP proxy takes the absolute URL
        sent = {"User-Agent": self.user_agent, "Accept": "*/*", **headers}
        started = time.monotonic()
        for attempt in (1, 2):
            if deadline is not None and deadline - time.monotonic() <= 0:
                raise _late(started, 0)
            # The connect is bounded by its timeout; a watchdog cuts the rest at the deadline.
            wait = timeout if deadline is None else min(timeout, deadline - time.monotonic())
            conn, reused = self._checkout(key, wait)
            guard = _WATCHDOG.watch(deadline, conn) if deadline is not None else None
            try:
                conn.request(method, target, body=body, headers=sent)
                if conn.sock is not None:
                    conn.sock.settimeout(timeout)
                response = conn.getresponse()
                data = _read_body(response, max_bytes, deadline, started, guard)
            except TransportError:  # over the cap, or past the deadline
                conn.close()
                raise
            except _STALE as exc:
                conn.close()
                if _past(deadline, guard):
                    raise _late(started, 0) from None
                if reused and attempt == 1:
                    continue  # the server closed an idle kept-alive connection
                raise TransportError(describe(exc)) from None
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                if _past(deadline, guard):
                    raise _late(started, 0) from None
                raise TransportError(describe(exc)) from None
            finally:
                cut = guard.release() if guard is not None else False
            if response.will_close or cut:
                conn.close()
            else:
                self._checkin(key, conn)
            return HttpResponse(response.status, response.msg, data, url)
        raise TransportError("server closed the connection")  # pragma: no cover

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Optional[Mapping[str, str]] = None,
        body: Optional[bytes] = None,
        timeout: float = 10.0,
        deadline: Optional[float] = None,
        max_bytes: Optional[int] = None,
    ) -> HttpResponse:
        """One exchange, redirects followed.

        `timeout` bounds the connect and each read; `deadline` (a
        `time.monotonic()` instant) the whole exchange, redirects included
        (`DeadlineExceeded`); `max_bytes` each body (`TooLarge`).
        """
        headers = dict(headers or {})
        origin = urlsplit(url).netloc
        for _ in range(MAX_REDIRECTS + 1):
            response = self._once(method, url, headers, body, timeout, deadline, max_bytes)
            location = response.headers.get("Location")
            if response.status not in _REDIRECTS or not location:
                return response
            url = urljoin(url, location)
            if urlsplit(url).netloc != origin:
                headers.pop("Authorization", None)
            if response.status == 303:
                method, body = "GET", None
        raise TransportError(f"more than {MAX_REDIRECTS} redirects")

    def stream(
        self,
        url: str,
        *,
        headers: Optional[Mapping[str, str]] = None,
        timeout: float = 30.0,
        deadline: Optional[float] = None,
    ) -> Stream:
        """GET `url` for reading its body in pieces (images: never all in memory).

        Redirects are followed; the connection is not returned to the pool.
        `deadline` bounds the connects and the status and headers (a server
        dripping its headers is cut off there), not the body: the caller reads
        that at its own pace.
        """
        headers = dict(headers or {})
        origin = urlsplit(url).netloc
        started = time.monotonic()
        for _ in range(MAX_REDIRECTS + 1):
            key = self._key(url)
            parts = urlsplit(url)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            if key[3] and key[0] == "http":
                target = url
            if deadline is not None and deadline - time.monotonic() <= 0:
                raise _late(started, 0)
            conn = self._connect(key, timeout if deadline is None else min(timeout, deadline - time.monotonic()))
            guard = _WATCHDOG.watch(deadline, conn) if deadline is not None else None
            try:
                conn.request("GET", target, headers={"User-Agent": self.user_agent, **headers})
                if conn.sock is not None:
                    conn.sock.settimeout(timeout)
                response = conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                if _past(deadline, guard):
                    raise _late(started, 0) from None
                raise TransportError(describe(exc)) from None
            finally:
                cut = guard.release() if guard is not None else False
            if cut:
                conn.close()
                raise _late(started, 0)
            location = response.getheader("Location")
            if response.status in _REDIRECTS and location:
                try:
                    _read_body(response, 1 << 20, deadline, started)
                except (OSError, http.client.HTTPException, TransportError):
                    pass  # only the Location matters
                conn.close()
                url = urljoin(url, location)
                if urlsplit(url).netloc != origin:
                    headers.pop("Authorization", None)
                continue
            return Stream(response.status, response.msg, url, response, conn)
        raise TransportError(f"more than {MAX_REDIRECTS} redirects")

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()
