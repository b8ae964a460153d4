"""A loopback HTTP peer that records POSTs and checks their OAuth signature."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional

from cloudinit_maaslike.oauth import Credentials
from cloudinit_maaslike.server.oauthcheck import (
    Refusal,
    TokenSecrets,
    Verifier,
    is_signed,
    parse_authorization,
)


@dataclass
class Posted:
    path: str
    headers: Dict[str, str]
    body: bytes
    signed_ok: Optional[bool]
    received: float = field(default_factory=time.time)


class _Store:
    def __init__(self, creds: Optional[Credentials]):
        self.creds = creds

    def by_token(self, key):
        c = self.creds
        if c and key == c.token_key:
            return TokenSecrets(c.consumer_key, c.token_key, c.token_secret, c.consumer_secret, "node")
        return None

    def has_consumer(self, key):
        return bool(self.creds and key == self.creds.consumer_key)


class Recorder:
    """`mode`: 'ok' answers 204 (200 'OK' for op=signal), 'stall' never answers."""

    def __init__(self, creds: Optional[Credentials] = None, mode: str = "ok",
                 clock_offset: float = 0.0):
        self.posts: List[Posted] = []
        self.mode = mode
        self.refused = 0
        self.clock = lambda: time.time() + clock_offset
        self.verifier = Verifier(_Store(creds), clock=self.clock)
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def date_time_string(self, timestamp=None):
                from email.utils import formatdate

                return formatdate(recorder.clock(), usegmt=True)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if recorder.mode == "stall":
                    time.sleep(60)
                    return
                params = parse_authorization(self.headers.get("Authorization", ""))
                ok: Optional[bool] = None
                if is_signed(params):
                    try:
                        url = f"http://{self.headers['Host']}{self.path}"
                        recorder.verifier.verify(params, "POST", url)
                        ok = True
                    except Refusal as refusal:
                        if "Expired timestamp" in str(refusal):
                            # as MAAS: 401 with the server's Date, nothing recorded
                            recorder.refused += 1
                            text = f"Authorization Error: '{refusal}'".encode()
                            self.send_response(401)  # adds Date from the server's clock
                            self.send_header("Content-Length", str(len(text)))
                            self.end_headers()
                            self.wfile.write(text)
                            return
                        ok = False
                recorder.posts.append(Posted(self.path, dict(self.headers), body, ok))
                if "op=signal" in self.path:
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"OK")
                else:
                    self.send_response(204)
                    self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def events(self) -> List[dict]:
        import json

        return [json.loads(p.body) for p in self.posts if "op=signal" not in p.path]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def blackhole() -> socket.socket:
    """A listening socket that accepts connections and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock
