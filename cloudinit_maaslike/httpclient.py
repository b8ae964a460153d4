"""A small keep-alive HTTP/1.1 client on the standard library's http.client.

Why not requests: importing it costs about 60 ms more than http.client on
the machines we boot (chardet, cookiejar, urllib3), which is a third of the
whole-process budget of `maaslike crawl`, and a crawl needs none of what it
adds.  What this client keeps from requests' behaviour:

* connections are kept alive and reused (a thread-safe pool per host);
* one timeout bounds the connect and every read;
* proxies from the environment (``http_proxy``/``https_proxy``/``no_proxy``)
  are honoured, HTTPS verifies certificates with the system's CAs;
* redirects are followed (up to 5), and an ``Authorization`` header is never
  sent to a different host than the one it was made for;
* a kept-alive connection the server has meanwhile closed is replaced
  transparently, once.

Failures are `TransportError` with a short, secret-free reason.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
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


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Message
    body: bytes
    url: str

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


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

    def readinto(self, buffer: memoryview) -> int:
        try:
            return self._response.readinto(buffer)
        except (OSError, http.client.HTTPException) as exc:
            raise TransportError(describe(exc)) from None

    def close(self) -> None:
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
              timeout: float) -> HttpResponse:
        key = self._key(url)
        parts = urlsplit(url)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        if key[3] and key[0] == "http":
            target = url  # a plain-HTTP proxy takes the absolute URL
        sent = {"User-Agent": self.user_agent, "Accept": "*/*", **headers}
        for attempt in (1, 2):
            conn, reused = self._checkout(key, timeout)
            try:
                conn.request(method, target, body=body, headers=sent)
                response = conn.getresponse()
                data = response.read()
            except _STALE as exc:
                conn.close()
                if reused and attempt == 1:
                    continue  # the server closed an idle kept-alive connection
                raise TransportError(describe(exc)) from None
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                raise TransportError(describe(exc)) from None
            if response.will_close:
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
    ) -> HttpResponse:
        headers = dict(headers or {})
        origin = urlsplit(url).netloc
        for _ in range(MAX_REDIRECTS + 1):
            response = self._once(method, url, headers, body, timeout)
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
    ) -> Stream:
        """GET `url` for reading its body in pieces (images: never all in memory).

        Redirects are followed; the connection is not returned to the pool.
        """
        headers = dict(headers or {})
        origin = urlsplit(url).netloc
        for _ in range(MAX_REDIRECTS + 1):
            key = self._key(url)
            parts = urlsplit(url)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            if key[3] and key[0] == "http":
                target = url
            conn = self._connect(key, timeout)
            try:
                conn.request("GET", target, headers={"User-Agent": self.user_agent, **headers})
                response = conn.getresponse()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                raise TransportError(describe(exc)) from None
            location = response.getheader("Location")
            if response.status in _REDIRECTS and location:
                response.read()
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
