"""A loopback file server for images, with Range support and injectable faults."""

from __future__ import annotations

import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List


class ImageServer:
    """Serves `root`. `drop_after[name] = n`: the next `times` answers stop after n bytes."""

    def __init__(self, root: str, ranges: bool = True):
        self.root = root
        self.ranges = ranges
        self.drops: Dict[str, List[int]] = {}
        self.requests: List[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                name = self.path.lstrip("/").split("?")[0]
                path = os.path.join(server.root, name)
                server.requests.append({"path": self.path, "range": self.headers.get("Range")})
                if not os.path.isfile(path):
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                size = os.path.getsize(path)
                start = 0
                wanted = self.headers.get("Range")
                if wanted and server.ranges and wanted.startswith("bytes="):
                    start = int(wanted[6:].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(size - start))
                self.end_headers()
                limit = size - start
                drops = server.drops.get(name)
                if drops:
                    limit = min(limit, drops.pop(0))
                with open(path, "rb") as handle:
                    handle.seek(start)
                    left = limit
                    while left > 0:
                        chunk = handle.read(min(left, 1 << 20))
                        if not chunk:
                            break
                        try:
                            self.wfile.write(chunk)
                        except OSError:
                            return
                        left -= len(chunk)
                if limit < size - start:
                    self.close_connection = True
                    self.connection.shutdown(2)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
