#!/usr/bin/env python3
"""500 nodes booting at once against `maaslike serve`, on loopback.

Not a timed test: it prints what one run measured on this machine.

Every simulated node does what a deploying node does, all nodes at once:
fetch its preseed anonymously (``op=get_preseed``), crawl the curtin tree the
way cloud-init's MAAS datasource does (instance-id, local-hostname,
public-keys, vendor-data, then user-data: the ~140 KB install payload), one
request after another, each signed with OAuth PLAINTEXT, then post 20 curtin
events to the status endpoint (JSON, ``Content-Type: application/json``).

The server runs in its own process, with ``--server-url`` set so it prepares
the payloads when it starts (as MAAS does when a deployment starts); the
load begins once it says they are ready.  Latency is measured in this
client, from sending a request to having read all of its answer, so the
client's own scheduling (it shares the two cores) counts against the server.
Baseline, measured alternately in the same run: a bare aiohttp app answering
the same requests with fixed bytes of the same sizes (no OAuth, no records,
no access log) -- the floor for any aiohttp server on this machine.
Figures: zero errors, p99 of metadata reads under 250 ms.

Bounded: at most --nodes (default 500) nodes, every request times out after
30 s and the whole run after --deadline seconds; loopback only.

Run: `make bench-serve` (or `.venv/bin/python bench/serve_load.py [--nodes N]`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any, Dict, List, Optional, Tuple

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_NODES = 500
EVENTS_PER_NODE = 20
ITEMS = ("instance-id", "local-hostname", "public-keys", "vendor-data")
P99_TARGET = 0.250
REQUEST_TIMEOUT = 30.0
KEEP_BYTES = 64 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_inventory(path: str, count: int) -> None:
    nodes = [{
        "system_id": f"node{i:04d}", "hostname": f"bench-{i:04d}", "status": "deploying",
        "public_keys": [f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBench{i:04d} bench@lab"],
        "user_data": f"#cloud-config\nfinal_message: bench node {i}\n",
        "vendor_data": {"ntp": {"enabled": True}},
    } for i in range(count)]
    with open(path, "w") as handle:
        yaml.safe_dump({"nodes": nodes}, handle)


BARE_APP = r"""
import sys
from aiohttp import web
port, size = int(sys.argv[1]), int(sys.argv[2])
url = f"http://127.0.0.1:{port}/MAAS/metadata/curtin"
preseed = (f"#cloud-config\ndatasource:\n  MAAS:\n    consumer_key: ck\n    metadata_url: {url}\n"
           "    token_key: tk\n    token_secret: ts\n").encode()
payload = b"#!/bin/bash\n" + b"#" * (size - 12)
async def answer(request):
    if request.method == "POST":
        await request.read()
        return web.Response(status=204)
    if "by-id" in request.path:
        return web.Response(body=preseed, content_type="text/plain")
    if request.path.endswith("/user-data"):
        return web.Response(body=payload, content_type="application/octet-stream")
    return web.Response(body=request.path.rsplit("/", 1)[1].encode(), content_type="text/plain")
app = web.Application()
app.router.add_route("*", "/{tail:.*}", answer)
print("ready", flush=True)
web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)
"""


class Server:
    """A server in a process of its own (its own GIL): `maaslike serve`, or the baseline."""

    def __init__(self, name: str, command: List[str], log_path: str, ready: str, deadline: float):
        self.name = name
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=log, cwd=REPO)
        started = time.monotonic()
        while ready not in self.log():
            if self.proc.poll() is not None or time.monotonic() - started > deadline:
                self.stop()
                raise SystemExit(f"bench: {name} did not get ready:\n{self.log()[-2000:]}")
            time.sleep(0.2)
        self.ready_after = time.monotonic() - started

    def cpu_seconds(self) -> float:
        """CPU time the server process has used (user + system), from /proc."""
        with open(f"/proc/{self.proc.pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def start_maaslike(workdir: str, count: int, deadline: float) -> Tuple[Server, str]:
    """`maaslike serve` with --server-url, so it prepares the payloads as it starts."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    nodes = os.path.join(workdir, "nodes.yaml")
    write_inventory(nodes, count)
    command = [sys.executable, "-m", "cloudinit_maaslike", "serve", "--nodes", nodes,
               "--state-dir", os.path.join(workdir, "state"), "--port", str(port), "--server-url", url]
    server = Server("maaslike serve", command, os.path.join(workdir, "serve.log"),
                    "prepared curtin user-data", deadline)
    return server, url


def start_bare(workdir: str, payload_size: int, deadline: float) -> Tuple[Server, str]:
    """The baseline: bare aiohttp answering the same requests with fixed bytes."""
    port = free_port()
    command = [sys.executable, "-c", BARE_APP, str(port), str(payload_size)]
    server = Server("bare aiohttp", command, os.path.join(workdir, "bare.log"), "ready", deadline)
    deadline_at = time.monotonic() + 20
    while time.monotonic() < deadline_at:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def plaintext_header(consumer_key: str, token_key: str, token_secret: str) -> str:
    """What oauthlib (and so cloud-init and curtin) sends for PLAINTEXT, fresh nonce."""
    return (f'OAuth oauth_nonce="{uuid.uuid4().int}", oauth_timestamp="{int(time.time())}", '
            f'oauth_version="1.0", oauth_signature_method="PLAINTEXT", '
            f'oauth_consumer_key="{consumer_key}", oauth_token="{token_key}", '
            f'oauth_signature="%26{token_secret}"')


class Stats:
    def __init__(self) -> None:
        self.latency: Dict[str, List[float]] = {"preseed": [], "meta-data item": [], "user-data": [],
                                                "event post": []}
        self.errors: List[str] = []


class _Answers(asyncio.Protocol):
    """Parses HTTP/1.1 answers as bytes arrive; of a body it keeps only the
    first `keep` bytes and counts the rest, as a node streaming to disk."""

    def __init__(self) -> None:
        self.transport: Optional[asyncio.Transport] = None
        self.waiter: Optional[asyncio.Future[Tuple[int, bytes]]] = None
        self.keep = KEEP_BYTES
        self._head = bytearray()
        self._status = 0
        self._left = -1  # body bytes still to come; -1 while reading the head
        self._body = bytearray()
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        while data:
            if self._left < 0:
                self._head += data
                end = self._head.find(b"\r\n\r\n")
                if end < 0:
                    return
                head, data = bytes(self._head[:end]), bytes(self._head[end + 4:])
                self._head.clear()
                self._parse_head(head)
            else:
                take = data[: self._left]
                if len(self._body) < self.keep:
                    self._body += take[: self.keep - len(self._body)]
                self._left -= len(take)
                data = data[len(take):]
            if self._left == 0:
                self._finish()

    def _parse_head(self, head: bytes) -> None:
        lines = head.decode("latin-1").split("\r\n")
        self._status = int(lines[0].split()[1])
        self._left = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                self._left = int(value)
            elif name == "transfer-encoding":
                self._fail(ValueError("chunked answers are not expected here"))

    def _finish(self) -> None:
        status, body = self._status, bytes(self._body)
        self._left, self._body = -1, bytearray()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((status, body))

    def _fail(self, exc: Exception) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.closed = True
        self._fail(exc or ConnectionResetError("the server closed the connection"))


class Connection:
    """One node's keep-alive HTTP/1.1 connection: a lean client (a protocol,
    no stream buffers), so the load generator, which shares this machine's two
    cores with the server, spends little CPU per request (real nodes spend
    none of the server's)."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.answers: Optional[_Answers] = None

    async def request(self, method: str, target: str, headers: Dict[str, str],
                      body: bytes = b"", keep: int = KEEP_BYTES) -> Tuple[int, bytes]:
        loop = asyncio.get_running_loop()
        if self.answers is None or self.answers.closed:
            _transport, self.answers = await loop.create_connection(_Answers, self.host, self.port)
        answers = self.answers
        assert answers.transport is not None
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}",
                 f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        answers.keep = keep
        answers.waiter = loop.create_future()
        answers.transport.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        return await answers.waiter

    def close(self) -> None:
        if self.answers is not None and self.answers.transport is not None:
            self.answers.transport.close()
        self.answers = None


async def one_node(base: str, system_id: str, stats: Stats, start: asyncio.Event) -> None:
    host, port = base.split("//", 1)[1].split(":")
    connection = Connection(host, int(port))
    await start.wait()

    async def timed(kind: str, method: str, target: str, expect: int, body: bytes = b"",
                    headers: Optional[Dict[str, str]] = None) -> bytes:
        began = time.perf_counter()
        try:
            status, data = await asyncio.wait_for(
                connection.request(method, target, headers or {}, body), REQUEST_TIMEOUT)
        except (OSError, ValueError, IndexError, asyncio.TimeoutError) as exc:
            stats.errors.append(f"{system_id} {method} {target}: {type(exc).__name__}")
            connection.close()
            return b""
        stats.latency[kind].append(time.perf_counter() - began)
        if status != expect:
            stats.errors.append(f"{system_id} {method} {target}: HTTP {status}")
        return data

    try:
        preseed = await timed("preseed", "GET",
                              f"/MAAS/metadata/latest/by-id/{system_id}/?op=get_preseed", 200)
        if not preseed:
            return
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        maas = yaml.load(preseed, Loader=loader)["datasource"]["MAAS"]
        creds = (maas["consumer_key"], maas["token_key"], maas["token_secret"])
        tree = maas["metadata_url"].split(base, 1)[1].rstrip("/") + "/2012-03-01/"
        for item in ITEMS:
            await timed("meta-data item", "GET", tree + "meta-data/" + item, 200,
                        headers={"Authorization": plaintext_header(*creds)})
        payload = await timed("user-data", "GET", tree + "user-data", 200,
                              headers={"Authorization": plaintext_header(*creds)})
        if not payload.startswith(b"#!/bin/bash"):
            stats.errors.append(f"{system_id}: user-data is not the install payload")
        for number in range(EVENTS_PER_NODE):
            event = {"event_type": "start" if number % 2 == 0 else "finish", "origin": "curtin",
                     "name": f"cmd-install/stage-{number // 2}", "description": f"step {number}",
                     "timestamp": time.time()}
            if number % 2:
                event["result"] = "SUCCESS"
            await timed("event post", "POST", f"/MAAS/metadata/status/{system_id}", 204,
                        body=json.dumps(event).encode(),
                        headers={"Content-Type": "application/json",
                                 "Authorization": plaintext_header(*creds)})
    finally:
        connection.close()


async def load(base: str, count: int, deadline: float) -> Tuple[Stats, float]:
    stats = Stats()
    start = asyncio.Event()
    tasks = [asyncio.ensure_future(one_node(base, f"node{i:04d}", stats, start)) for i in range(count)]
    await asyncio.sleep(0.1)
    began = time.perf_counter()
    start.set()
    try:
        await asyncio.wait_for(asyncio.gather(*tasks), deadline)
    except asyncio.TimeoutError:
        stats.errors.append(f"the run did not finish within {deadline:.0f} s")
    return stats, time.perf_counter() - began


def percentile(samples: List[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def measure(server: Server, url: str, count: int, deadline: float) -> Dict[str, Any]:
    cpu_before = server.cpu_seconds()
    stats, elapsed = asyncio.run(load(url, count, deadline))
    cpu = server.cpu_seconds() - cpu_before
    total = sum(len(v) for v in stats.latency.values())
    reads = stats.latency["meta-data item"] + stats.latency["user-data"]
    return {"stats": stats, "elapsed": elapsed, "total": total, "cpu_per_request": cpu / max(total, 1),
            "reads_p50": statistics.median(reads) if reads else float("inf"),
            "reads_p99": percentile(reads, 0.99) if reads else float("inf")}


def report(name: str, runs: List[Dict[str, Any]]) -> None:
    errors = sum(len(r["stats"].errors) for r in runs)
    rate = statistics.median(r["total"] / r["elapsed"] for r in runs)
    cpu = statistics.median(r["cpu_per_request"] for r in runs)
    print(f"   {name}: {runs[0]['total']} requests a run, median {rate:.0f}/s, "
          f"server CPU {cpu * 1e6:.0f} us/request, {errors} errors in {len(runs)} runs")
    for run in runs:
        for error in run["stats"].errors[:5]:
            print(f"      error: {error}")
    for kind in runs[0]["stats"].latency:
        p50 = statistics.median(statistics.median(r["stats"].latency[kind]) for r in runs)
        p99 = statistics.median(percentile(r["stats"].latency[kind], 0.99) for r in runs)
        print(f"      {kind:14s} p50 {p50 * 1000:6.1f} ms   p99 {p99 * 1000:6.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=MAX_NODES)
    parser.add_argument("--runs", type=int, default=3, help="runs per server, alternating")
    parser.add_argument("--deadline", type=float, default=300.0, help="seconds for each run")
    args = parser.parse_args()
    count = max(1, min(args.nodes, MAX_NODES))
    workdir = tempfile.mkdtemp(prefix="maaslike-bench-serve-")
    servers: List[Server] = []
    try:
        ours, ours_url = start_maaslike(workdir, count, args.deadline)
        servers.append(ours)
        payload_size = len(asyncio.run(fetch_payload(ours_url)))
        bare, bare_url = start_bare(workdir, payload_size, args.deadline)
        servers.append(bare)
        print(f"{count} nodes at once, each: preseed, {len(ITEMS) + 1} metadata reads (curtin tree, "
              f"OAuth PLAINTEXT; user-data is the {payload_size // 1024} KB payload), {EVENTS_PER_NODE} "
              f"events, back to back; median of {args.runs} runs (alternating with the baseline); "
              f"maaslike ready after {ours.ready_after:.1f} s (payloads prepared)")
        results: Dict[str, List[Dict[str, Any]]] = {"maaslike serve": [], "bare aiohttp (baseline)": []}
        for _ in range(args.runs):
            results["maaslike serve"].append(measure(ours, ours_url, count, args.deadline))
            results["bare aiohttp (baseline)"].append(measure(bare, bare_url, count, args.deadline))
        for name, runs in results.items():
            report(name, runs)
        mine = results["maaslike serve"]
        p99 = statistics.median(r["reads_p99"] for r in mine)
        base = statistics.median(r["reads_p99"] for r in results["bare aiohttp (baseline)"])
        errors = sum(len(r["stats"].errors) for r in mine)
        ok = errors == 0 and p99 < P99_TARGET
        print(f"   -> metadata reads p99 {p99 * 1000:.0f} ms (x{p99 / base:.2f} of the baseline's "
              f"{base * 1000:.0f} ms; target < {P99_TARGET * 1000:.0f} ms), {errors} errors "
              f"(target 0): {'PASS' if ok else 'FAIL'}")
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


async def fetch_payload(url: str) -> bytes:
    """One node's payload, to give the baseline answers of the same size."""
    connection = Connection("127.0.0.1", int(url.rsplit(":", 1)[1]))
    try:
        _status, body = await connection.request("GET", "/MAAS/metadata/latest/by-id/node0000/?op=get_preseed", {})
        maas = yaml.safe_load(body)["datasource"]["MAAS"]
        creds = (maas["consumer_key"], maas["token_key"], maas["token_secret"])
        status, payload = await connection.request(
            "GET", "/MAAS/metadata/curtin/latest/user-data",
            {"Authorization": plaintext_header(*creds)}, keep=1 << 30)
        if status != 200:
            raise SystemExit(f"bench: user-data answered HTTP {status}")
        return payload
    finally:
        connection.close()


if __name__ == "__main__":
    sys.exit(main())
