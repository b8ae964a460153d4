#!/usr/bin/env python3
"""Streaming a 400 MB image from `maaslike serve --images`, side by side with nginx.

Not a timed test: it prints what one run measured on this machine.

The same file (400 MB of random bytes, read once first so both servers serve
it from the page cache) is fetched from ``/images/`` of `maaslike serve` and
from Debian's nginx (``nginx-light``, run in the foreground on loopback with
a config written into a temporary directory: sendfile and tcp_nopush on, as
Debian ships it, no access log), alternately, several times each, by one
``curl -o /dev/null`` client.  Figure: the median throughput of maaslike at
least 80 % of nginx's.

Bounded: 400 MB (--size-mb), --runs fetches per server (default 5),
each fetch times out after 120 s; loopback only; nothing outside a temporary
directory is written.

Run: `make bench-serve` (or `.venv/bin/python bench/serve_images.py`).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NGINX = "/usr/sbin/nginx"
TARGET = 0.80
NGINX_CONF = """\
user root;
worker_processes auto;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
    sendfile on;
    tcp_nopush on;
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location /images/ {{ alias {images}/; }}
    }}
}}
"""
NODES = "nodes:\n  - {system_id: bench1, hostname: bench-node}\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"bench: {what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"bench: {what} did not listen on 127.0.0.1:{port}")


def make_image(path: str, size_mb: int) -> None:
    block = os.urandom(1024 * 1024)
    with open(path, "wb") as handle:
        for index in range(size_mb):
            # Vary each block so nothing along the way can shortcut repeated data.
            handle.write(index.to_bytes(8, "little") + block[8:])
    with open(path, "rb") as handle:  # into the page cache, for both servers alike
        while handle.read(8 * 1024 * 1024):
            pass


def fetch(url: str, size: int) -> float:
    """Bytes per second for one whole download, as curl measured it."""
    done = subprocess.run(
        ["curl", "-sS", "--noproxy", "*", "-o", "/dev/null", "--max-time", "120",
         "-w", "%{size_download} %{speed_download}", url],
        capture_output=True, text=True, timeout=150,
    )
    if done.returncode != 0:
        raise SystemExit(f"bench: curl {url} failed: {done.stderr.strip()}")
    got, speed = done.stdout.split()
    if int(float(got)) != size:
        raise SystemExit(f"bench: {url} gave {got} bytes, expected {size}")
    return float(speed)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size-mb", type=int, default=400)
    args = parser.parse_args()
    if not os.access(NGINX, os.X_OK):
        raise SystemExit("bench: Debian's nginx is not installed (apt-get install nginx-light)")
    work = tempfile.mkdtemp(prefix="maaslike-bench-images-")
    os.chmod(work, 0o755)
    procs: List[subprocess.Popen] = []
    try:
        images = os.path.join(work, "images")
        os.makedirs(images)
        image = os.path.join(images, "root.img")
        make_image(image, args.size_mb)
        size = os.path.getsize(image)

        nginx_port, serve_port = free_port(), free_port()
        conf = os.path.join(work, "nginx.conf")
        with open(conf, "w") as handle:
            handle.write(NGINX_CONF.format(work=work, port=nginx_port, images=images))
        procs.append(subprocess.Popen([NGINX, "-c", conf, "-p", work, "-g", "daemon off;"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_for_port(nginx_port, procs[-1], "nginx")

        nodes = os.path.join(work, "nodes.yaml")
        with open(nodes, "w") as handle:
            handle.write(NODES)
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "cloudinit_maaslike", "serve", "--nodes", nodes,
             "--state-dir", os.path.join(work, "state"), "--port", str(serve_port),
             "--images", images],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO,
        ))
        wait_for_port(serve_port, procs[-1], "maaslike serve")

        urls = {"nginx": f"http://127.0.0.1:{nginx_port}/images/root.img",
                "maaslike": f"http://127.0.0.1:{serve_port}/images/root.img"}
        for url in urls.values():
            fetch(url, size)  # warm both up once
        speeds: Dict[str, List[float]] = {name: [] for name in urls}
        for _ in range(args.runs):
            for name, url in urls.items():
                speeds[name].append(fetch(url, size))

        print(f"one client (curl -o /dev/null) fetching a {size // (1024 * 1024)} MB image over loopback, "
              f"median of {args.runs} (alternating)")
        for name, samples in speeds.items():
            print(f"   {name:9s} {statistics.median(samples) / 1e6:8.0f} MB/s"
                  f"   (min {min(samples) / 1e6:.0f}, max {max(samples) / 1e6:.0f})")
        ratio = statistics.median(speeds["maaslike"]) / statistics.median(speeds["nginx"])
        print(f"   -> maaslike reaches {ratio * 100:.0f} % of nginx (target >= {TARGET * 100:.0f} %): "
              f"{'PASS' if ratio >= TARGET else 'FAIL'}")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
