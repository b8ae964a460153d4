"""A loopback HTTP server that misbehaves slowly: drips, stalls, endless bodies.

Each request takes the next step of the script for its path (the last step
repeats; paths not scripted use `default`).  A step is a tuple:

* ``("ok",)``: the file (Range honoured), at full speed;
* ``("drip", after, interval)``: the file's headers (Range honoured), `after`
  bytes at full speed, then one byte every `interval` seconds;
* ``("slow", rate)``: the file at about `rate` bytes per second;
* ``("drip-headers", interval)``: the status line and headers a byte at a time;
* ``("silent",)``: reads the request and answers nothing;
* ``("endless", framing)``: zeros for ever (up to `ENDLESS_LIMIT`, then the
  connection is cut): framing ``chunked``, ``close`` (no length, HTTP/1.0
  style) or ``length`` (a huge Content-Length);
* ``("status", code)``: that status, empty body.

The body of a path is `files[path]`, or the path's last segment for metadata.
Used by tests/integration/test_transfer_deadlines.py and bench/stall.py.
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional, Tuple

Step = Tuple[object, ...]
ENDLESS_LIMIT = 256 << 20
PIECE = 64 << 10


class DripServer:
    def __init__(self, default: Step = ("ok",), script: Optional[Dict[str, List[Step]]] = None,
                 files: Optional[Dict[str, bytes]] = None):
        self.default = default
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.files = dict(files or {})
        self.requests: List[Dict[str, Optional[str]]] = []
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                with server._lock:
                    server.requests.append({"path": path, "range": self.headers.get("Range")})
                    steps = server.script.get(path)
                    step = (steps.pop(0) if len(steps) > 1 else steps[0]) if steps else server.default
                try:
                    server._answer(self, path, step)
                except OSError:
                    pass  # the client went away: that is how most of these end
                self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + "/" + path.lstrip("/")

    def body(self, path: str) -> bytes:
        if path in self.files:
            return self.files[path]
        return path.rstrip("/").rsplit("/", 1)[-1].encode()

    def _sleep(self, seconds: float) -> None:
        if self.stopping.wait(seconds):
            raise OSError("server stopping")

    def _answer(self, h: BaseHTTPRequestHandler, path: str, step: Step) -> None:
        kind = step[0]
        if kind == "silent":
            while True:
                self._sleep(0.5)
        if kind == "status":
            h.send_response(int(step[1]))
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        if kind == "drip-headers":
            raw = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Padding: " + b"x" * 4000 + b"\r\n\r\nok"
            for i in range(len(raw)):
                h.wfile.write(raw[i:i + 1])
                h.wfile.flush()
                self._sleep(float(step[1]))
            return
        if kind == "endless":
            self._endless(h, str(step[1]))
            return
        data = self.body(path)
        if path.endswith("/SHA256SUMS") and path not in self.files:
            h.send_response(404)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return
        start = 0
        wanted = h.headers.get("Range")
        if wanted and wanted.startswith("bytes="):
            start = int(wanted[6:].split("-")[0])
            h.send_response(206)
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            h.send_response(200)
        h.send_header("Content-Length", str(len(data) - start))
        h.end_headers()
        rest = memoryview(data)[start:]
        if kind == "ok":
            h.wfile.write(rest)
        elif kind == "drip":
            after, interval = int(step[1]), float(step[2])
            h.wfile.write(rest[:after])
            h.wfile.flush()
            for i in range(after, len(rest)):
                self._sleep(interval)
                h.wfile.write(rest[i:i + 1])
                h.wfile.flush()
        elif kind == "slow":
            rate = float(step[1])
            piece = max(1, int(rate / 20))
            for i in range(0, len(rest), piece):
                h.wfile.write(rest[i:i + piece])
                h.wfile.flush()
                self._sleep(piece / rate)
        else:
            raise ValueError(f"unknown step {step!r}")

    def _endless(self, h: BaseHTTPRequestHandler, framing: str) -> None:
        zeros = b"\0" * PIECE
        if framing == "close":
            h.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n")
        else:
            h.send_response(200)
            if framing == "chunked":
                h.send_header("Transfer-Encoding", "chunked")
            else:
                h.send_header("Content-Length", str(3 << 30))
            h.end_headers()
        sent = 0
        while sent < ENDLESS_LIMIT and not self.stopping.is_set():
            if framing == "chunked":
                h.wfile.write(b"%x\r\n%s\r\n" % (len(zeros), zeros))
            else:
                h.wfile.write(zeros)
            sent += len(zeros)
        h.connection.shutdown(socket.SHUT_RDWR)  # cut, never a clean end

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()

