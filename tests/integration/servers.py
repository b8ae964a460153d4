"""Test peers on loopback: the stand-in MAAS server, and a deliberately bad one."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, List, Optional

from cloudinit_maaslike.oauth import Credentials
from cloudinit_maaslike.server.inventory import parse_inventory
from cloudinit_maaslike.server.runner import BackgroundServer
from cloudinit_maaslike.server.state import ServerOptions

NODES = {"nodes": [
    {"system_id": "abc123", "hostname": "node1", "domain": "lab",
     "public_keys": ["ssh-ed25519 AAAAC3Nza-one one@lab", "ssh-rsa AAAAB3Nza-two two@lab"],
     "user_data": "#cloud-config\nfinal_message: hello from abc123\n",
     "vendor_data": {"ntp": {"enabled": True}}},
    {"system_id": "def456", "hostname": "node2", "status": "deployed"},
]}


@dataclass
class Maas:
    server: BackgroundServer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def api(self):
        return self.server.api

    def metadata_url(self, curtin: bool = False) -> str:
        return f"{self.url}/MAAS/metadata/" + ("curtin" if curtin else "")

    def preseed_url(self, system_id: str = "abc123") -> str:
        return f"{self.url}/MAAS/metadata/latest/by-id/{system_id}/?op=get_preseed"

    def creds(self, system_id: str = "abc123") -> Credentials:
        t = self.api.credentials.for_node(system_id)
        return Credentials(t.consumer_key, t.token_key, t.token_secret)

    def events(self, system_id: str = "abc123") -> List[dict]:
        return self.api.records[system_id].snapshot()["events"]


def start_maas(state_dir: str, latency: float = 0.0, clock_offset: float = 0.0,
               nodes: Optional[dict] = None, **options: Any) -> Maas:
    """`options`: more ServerOptions (images_dir, templates_dir, server_url)."""
    settings = ServerOptions(state_dir=state_dir, port=0, latency=latency, clock_offset=clock_offset,
                             **options)
    return Maas(BackgroundServer(parse_inventory(nodes or NODES, "test"), settings).start())


class ServeProcess:
    """`maaslike serve` as an operator starts it: a process of its own, a real port."""

    def __init__(self, nodes_file: str, state_dir: str, *args: str, port: int = 0):
        self.port = port or free_port()
        self.state_dir = state_dir
        self.log_path = state_dir.rstrip("/") + ".log"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cloudinit_maaslike", "serve", "--nodes", nodes_file,
                 "--state-dir", state_dir, "--port", str(self.port), *args],
                stdout=log, stderr=log,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"maaslike serve did not start: {self.log()[-2000:]}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def preseed_url(self, system_id: str) -> str:
        return f"{self.url}/MAAS/metadata/latest/by-id/{system_id}/?op=get_preseed"

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def stop(self, signum: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        return self.proc.wait(timeout=20)


class FlakyServer:
    """Answers from a script: 'ok', a status code, 'reset', 'stall' or 'close'.

    Each request takes the next step; when the script runs out, 'ok' (the
    item's path as its body).  Used to prove retries, resets and timeouts.
    """

    def __init__(self, script: List[object]):
        self.script = list(script)
        self.seen: List[str] = []
        self._lock = threading.Lock()
        flaky = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                with flaky._lock:
                    flaky.seen.append(self.path)
                    step = flaky.script.pop(0) if flaky.script else "ok"
                if step == "reset":
                    # Linger 0 then close every handle: the kernel sends RST.
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    self.close_connection = True
                    self.rfile.close()
                    self.wfile.close()
                    self.connection.close()
                    return
                if step == "stall":
                    time.sleep(30)
                    return
                status = 200 if step == "ok" else int(step)
                body = self.path.rsplit("/", 1)[-1].encode() if status == 200 else b"busy"
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/MAAS/metadata/"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
