"""The stand-in server against hostile clients, over real sockets on 127.0.0.1.

Issue 11 point 9: bzip2 attachments held whole in memory (an event signed
with a token key alone, six files, +1.8 GB); idle connections and half-sent
headers kept for ever; deeply nested or ill-typed JSON answered with a 500
and a traceback; no configurable cap on request bodies.

Memory is measured on a `maaslike serve` process of its own (its VmHWM), so
the assertions see the server and nothing else.
"""

from __future__ import annotations

import base64
import bz2
import json
import logging
import os
import socket
import time

import pytest
import requests
import yaml

from cloudinit_maaslike.oauth import HMAC_SHA1, Signer

from .servers import ServeProcess, start_maas

MiB = 1024 * 1024
NODES = {"nodes": [{"system_id": "abc123", "hostname": "node1", "status": "deploying"},
                   {"system_id": "def456", "hostname": "node2", "status": "commissioning"}]}


def write_nodes(tmp_path) -> str:
    path = tmp_path / "nodes.yaml"
    path.write_text(yaml.safe_dump(NODES))
    return str(path)


def token_key(state_dir, system_id="abc123") -> str:
    with open(os.path.join(state_dir, "credentials.json")) as handle:
        return json.load(handle)[system_id]["token_key"]


def high_water_mark(pid: int) -> int:
    """The process's peak resident memory (VmHWM), in bytes."""
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/<pid>/status")


def bomb(size: int) -> str:
    """base64 of bzip2 of `size` zero bytes: a few hundred bytes that inflate to `size`."""
    return base64.b64encode(bz2.compress(b"\0" * size)).decode()


def post_event(url, token, system_id="abc123", timeout=120, **fields) -> requests.Response:
    event = {"event_type": "finish", "origin": "curtin", "name": "cmd-install",
             "description": "curtin command install", "result": "SUCCESS", "timestamp": time.time(),
             **fields}
    endpoint = f"{url}/MAAS/metadata/status/{system_id}"
    return requests.post(endpoint, data=json.dumps(event).encode(), timeout=timeout, headers={
        "Content-Type": "application/json", "Authorization": f'OAuth oauth_token="{token}"'})


def files_dir(state_dir, system_id="abc123"):
    path = os.path.join(state_dir, "nodes", system_id, "files")
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


def event_names(url, system_id="abc123"):
    shown = requests.get(f"{url}/maaslike/nodes/{system_id}/events", timeout=10).json()
    return [e for e in shown["events"] if e["kind"] == "event"]


@pytest.fixture
def served(tmp_path):
    """`maaslike serve` in a process of its own; call with extra arguments."""
    started = []

    def start(*args):
        state = str(tmp_path / "state")
        server = ServeProcess(write_nodes(tmp_path), state, *args)
        started.append(server)
        return server

    yield start
    for server in started:
        assert server.stop() == 0
        assert "Traceback" not in server.log()


# -- attachments ---------------------------------------------------------------


def test_attachments_are_streamed_to_disk_not_held_in_memory(served):
    """Three files inflating to 128 MiB each, within raised caps: stored, and the
    server's peak memory barely moves (before: every file whole in memory)."""
    server = served("--max-event-attachments", "1G", "--max-node-attachments", "2G")
    token = token_key(server.state_dir)
    # Warm up the path (imports, worker thread, bz2) with a small file first.
    assert post_event(server.url, token, files=[
        {"path": "/tmp/warm.log", "content": bomb(1000), "encoding": "base64",
         "compression": "bzip2"}]).status_code == 204
    before = high_water_mark(server.proc.pid)

    content = bomb(128 * MiB)
    files = [{"path": f"/tmp/part{i}.log", "content": content, "encoding": "base64",
              "compression": "bzip2"} for i in range(3)]
    answer = post_event(server.url, token, files=files)
    assert answer.status_code == 204, answer.text
    grown = high_water_mark(server.proc.pid) - before
    assert grown < 48 * MiB, f"the server's peak memory grew by {grown // MiB} MiB"

    stored = files_dir(server.state_dir)
    assert stored == ["00001-warm.log", "00002-part0.log", "00003-part1.log", "00004-part2.log"]
    for name in stored[1:]:
        path = os.path.join(server.state_dir, "nodes", "abc123", "files", name)
        assert os.path.getsize(path) == 128 * MiB
    assert event_names(server.url)[-1]["files"] == [
        {"name": f"/tmp/part{i}.log", "size": 128 * MiB} for i in range(3)]


def test_six_bzip2_bombs_signed_by_a_token_key_alone_are_a_413_at_the_default_cap(served):
    """The reported case: six files in one event; the default cap per event
    (256 MiB decoded) stops it, memory stays flat and nothing is kept."""
    server = served()
    token = token_key(server.state_dir)
    assert post_event(server.url, token, name="cmd-install/stage-early", event_type="start").status_code == 204
    before = high_water_mark(server.proc.pid)

    content = bomb(300 * MiB)
    files = [{"path": f"/tmp/bomb{i}", "content": content, "encoding": "base64",
              "compression": "bzip2"} for i in range(6)]
    answer = post_event(server.url, token, files=files)
    assert answer.status_code == 413
    assert answer.text == ("Attached files refused: attached files decode to more than"
                           f" {256 * MiB} bytes, the cap per event.")
    grown = high_water_mark(server.proc.pid) - before
    assert grown < 48 * MiB, f"the server's peak memory grew by {grown // MiB} MiB"
    assert files_dir(server.state_dir) == []  # not even a partial file
    assert [e["name"] for e in event_names(server.url)] == ["cmd-install/stage-early"]  # not recorded


def test_the_cap_per_node_counts_every_event_and_survives_a_restart(tmp_path):
    state = str(tmp_path / "state")
    maas = start_maas(state, nodes=NODES, max_event_attachments=4 * MiB, max_node_attachments=10 * MiB)
    token = token_key(state)
    three = [{"path": "/tmp/install.log", "content": bomb(3 * MiB), "compression": "bzip2"}]
    try:
        five = [{"path": "big.log", "content": bomb(5 * MiB), "compression": "bzip2"}]
        answer = post_event(maas.url, token, files=five)
        assert answer.status_code == 413 and answer.text.endswith("the cap per event.")
        for _ in range(3):
            assert post_event(maas.url, token, files=three).status_code == 204
        answer = post_event(maas.url, token, files=three)
        assert answer.status_code == 413
        assert answer.text == ("Attached files refused: attached files would take node abc123 past its cap"
                               f" of {10 * MiB} bytes of stored files ({9 * MiB} kept already).")
        one = [{"path": "small.log", "content": bomb(MiB), "compression": "bzip2"}]
        assert post_event(maas.url, token, files=one).status_code == 204  # exactly at the cap
    finally:
        maas.server.stop()
    assert len(files_dir(state)) == 4

    again = start_maas(state, nodes=NODES, max_event_attachments=4 * MiB, max_node_attachments=10 * MiB)
    try:
        answer = post_event(again.url, token, files=one)
        assert answer.status_code == 413 and f"({10 * MiB} kept already)" in answer.text
        assert post_event(again.url, token_key(state, "def456"), "def456", files=one).status_code == 204
    finally:
        again.server.stop()


def test_signal_files_count_against_the_caps(tmp_path):
    state = str(tmp_path / "state")
    maas = start_maas(state, nodes=NODES, max_event_attachments=2 * MiB)
    c = maas.creds("def456")
    url = maas.url + "/MAAS/metadata/latest/"
    try:
        def signal(files):
            header = Signer(c).sign(url, "POST")[0]
            return requests.post(url, data={"op": "signal", "status": "OK"}, files=files, timeout=30,
                                 headers={"Authorization": header})

        answer = signal({"a.out": ("a.out", b"x" * MiB), "b.out": ("b.out", b"y" * (MiB + 1))})
        assert answer.status_code == 413 and "the cap per event" in answer.text
        assert files_dir(state, "def456") == [] and maas.api.records["def456"].status == "commissioning"
        answer = signal({"a.out": ("a.out", b"x" * MiB), "b.out": ("b.out", b"y" * MiB)})
        assert (answer.status_code, answer.text) == (200, "OK")
        assert files_dir(state, "def456") == ["00001-a.out", "00002-b.out"]
        assert maas.api.records["def456"].status == "ready"
    finally:
        maas.server.stop()


def test_request_bodies_have_a_cap(tmp_path):
    maas = start_maas(str(tmp_path / "state"), nodes=NODES, max_body_size=MiB)
    endpoint = maas.url + "/MAAS/metadata/status/abc123"
    header = f'OAuth oauth_token="{maas.creds().token_key}"'
    try:
        answer = post_event(maas.url, maas.creds().token_key, description="x" * (MiB // 2))
        assert answer.status_code == 204
        answer = post_event(maas.url, maas.creds().token_key, description="x" * (MiB + 1))
        assert (answer.status_code, answer.text) == (413, f"Request body larger than this server's cap of {MiB} bytes.")
        # Announced too big: refused before a byte of it is sent (and what the client
        # sends anyway is read and dropped, so the connection stays usable).
        with socket.create_connection(("127.0.0.1", maas.server.port), timeout=5) as sock:
            sock.sendall(f"POST /MAAS/metadata/status/abc123 HTTP/1.1\r\nHost: x\r\nAuthorization: {header}\r\n"
                         f"Content-Type: application/json\r\nContent-Length: {2 * MiB}\r\n\r\n".encode())
            assert sock.recv(4096).startswith(b"HTTP/1.1 413 ")
            sock.sendall(b"[" * (2 * MiB))
            sock.sendall(b"GET /MAAS/metadata/latest/by-id/abc123/?op=get_preseed HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 200 ")
        # Chunked, no length announced: stopped at the cap all the same.
        chunks = (b"[" * 65536 for _ in range(64))
        answer = requests.post(endpoint, data=chunks, timeout=30, headers={"Authorization": header})
        assert answer.status_code == 413
    finally:
        maas.server.stop()


# -- malformed input ----------------------------------------------------------------


HOSTILE_EVENTS = [
    (b"[" * 100_000, "Status payload must be ASCII JSON (it nests too deeply)."),
    (b'{"a":' * 100_000, "Status payload must be ASCII JSON (it nests too deeply)."),
    (b"[]", "Status payload must be a JSON object."),
    (b'"event"', "Status payload must be a JSON object."),
    (b'{"event_type": "start", "origin": "x", "name": ["n"], "description": "d"}',
     "Bad status message: name must be a string, not a list."),
    (b'{"event_type": "finish", "origin": "x", "name": "n", "description": "d", "result": {"a": 1}}',
     "Bad status message: result must be a string, not a dict."),
    (b'{"event_type": "start", "origin": "x", "name": "n", "description": "d", "timestamp": "12"}',
     "Bad status message: timestamp must be seconds since 1970, not '12'."),
    (b'{"event_type": "start", "origin": "x", "name": "n", "description": "d", "timestamp": 1e999}',
     "Bad status message: timestamp must be seconds since 1970, not inf."),
    (b'{"event_type": "start", "origin": "x", "name": "n", "description": "d", "timestamp": NaN}',
     "Status payload must be ASCII JSON (NaN is not JSON)."),
    (b'{"event_type": "start", "origin": "x", "name": "n", "description": "d", "timestamp": ' + b"9" * 5000 + b"}",
     "Status payload must be ASCII JSON (a number has too many digits)."),
    (b'{"event_type": "start", "origin": "x", "name": "n", "description": "\xff\xfe"}',
     "Status payload must be ASCII JSON."),
    (b'{"event_type": "start", "origin": "x", "name": "n", "description": "d", "files": {"a": 1}}',
     "Bad status message: files must be a list."),
    (b'{"event_type": "start", "origin": "x", "name": "n", "description": "d", "files": [[]]}',
     "Bad status message: files[0] needs path and content."),
    (b'{"event_type": "start", "origin": "x", "name": "n", "description": "d",'
     b' "files": [{"path": [[[]]], "content": ""}]}',
     "Bad status message: files[0]: path must be a string, not a list."),
    (b'{"event_type": "start", "origin": "x", "name": "n", "description": "d",'
     b' "files": [{"path": "p", "content": "QUJD", "compression": "bzip2"}]}',
     "Bad status message: file 'p' is not valid bzip2."),
    (b'{"event_type": "start", "origin": "x", "name": "n", "description": "d",'
     b' "files": [{"path": "p", "content": "QU==QUJD"}]}',
     "Bad status message: file 'p' is not valid base64."),
]


@pytest.mark.parametrize("body,message", HOSTILE_EVENTS, ids=range(len(HOSTILE_EVENTS)))
def test_malformed_events_are_a_400_with_one_line(tmp_path, caplog, body, message):
    caplog.set_level(logging.INFO)
    maas = start_maas(str(tmp_path / "state"), nodes=NODES)
    endpoint = maas.url + "/MAAS/metadata/status/abc123"
    try:
        answer = requests.post(endpoint, data=body, timeout=30, headers={
            "Content-Type": "application/json", "Authorization": f'OAuth oauth_token="{maas.creds().token_key}"'})
        assert (answer.status_code, answer.text) == (400, message)
        assert maas.events() == [] and files_dir(str(tmp_path / "state")) == []
    finally:
        maas.server.stop()
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_malformed_forms_and_queries_are_refused_without_a_traceback(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    maas = start_maas(str(tmp_path / "state"), nodes=NODES)
    url = maas.url + "/MAAS/metadata/latest/"
    c = maas.creds("def456")
    try:
        broken = b"--XyZ\r\nContent-Disposition: form-data\r\n\r\nno name\r\n--XyZ--\r\n"
        answer = requests.post(url, data=broken, timeout=10, headers={
            "Authorization": Signer(c).sign(url, "POST")[0], "Content-Type": "multipart/form-data; boundary=XyZ"})
        assert answer.status_code == 400 and answer.text.startswith("Malformed multipart/form-data body: ")
        assert "\n" not in answer.text

        answer = requests.post(url, data=b"op=signal&status=%FF%FE", timeout=10, headers={
            "Authorization": Signer(c).sign(url, "POST")[0],
            "Content-Type": "application/x-www-form-urlencoded; charset=no-such-charset"})
        assert 400 <= answer.status_code < 500 and "\n" not in answer.text

        # A query oauthlib cannot parse: not what was signed, so a 401 (was a 500).
        item = maas.url + "/MAAS/metadata/latest/meta-data/instance-id"
        header = Signer(c, method=HMAC_SHA1).sign(item)[0]
        answer = requests.get(item + '?a="b"&c=<d>', timeout=10, headers={"Authorization": header})
        assert (answer.status_code, answer.text) == (401, "Authorization Error: 'Invalid signature.'")
    finally:
        maas.server.stop()
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_a_hostile_event_leaves_no_traceback_in_the_serve_log(served):
    server = served()
    token = token_key(server.state_dir)
    for body in (b"[" * 100_000, b'{"event_type": [], "origin": {}, "name": 1, "description": null}'):
        answer = requests.post(server.url + "/MAAS/metadata/status/abc123", data=body, timeout=10,
                               headers={"Authorization": f'OAuth oauth_token="{token}"'})
        assert answer.status_code == 400 and "\n" not in answer.text
    # The fixture checks the log for tracebacks once the server has stopped.


# -- slow and idle connections ----------------------------------------------------------


def closed_after(sock: socket.socket, limit: float) -> float:
    """Seconds until the server closes `sock` (reading and dropping what it sends)."""
    start = time.monotonic()
    sock.settimeout(limit)
    try:
        while sock.recv(65536):
            pass
    except socket.timeout:
        raise AssertionError(f"the server kept the connection open for {limit} s") from None
    except ConnectionResetError:
        pass
    return time.monotonic() - start


@pytest.fixture
def quick(tmp_path, caplog):
    """A server with one-second timeouts, and images to download slowly."""
    caplog.set_level(logging.INFO)
    images = tmp_path / "images"
    images.mkdir()
    (images / "root.tgz").write_bytes(os.urandom(MiB))
    maas = start_maas(str(tmp_path / "state"), nodes=NODES, images_dir=str(images),
                      header_timeout=1.0, idle_timeout=1.0, body_timeout=1.0)
    yield maas
    maas.server.stop()
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def connect(maas) -> socket.socket:
    return socket.create_connection(("127.0.0.1", maas.server.port), timeout=5)


def test_a_half_sent_header_is_closed_after_the_header_timeout(quick):
    with connect(quick) as sock:
        sock.sendall(b"GET /MAAS/metadata/latest/by-id/abc123/?op=get_preseed HTTP/1.1\r\nHost: x\r\n")
        assert 0.9 < closed_after(sock, 6) < 4
    with connect(quick) as sock:  # nothing sent at all
        assert 0.9 < closed_after(sock, 6) < 4
    with connect(quick) as sock:  # a byte every 50 ms, never finishing the head
        start = time.monotonic()
        try:
            for byte in b"GET /MAAS/metadata/ HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
                sock.sendall(bytes([byte]))
                time.sleep(0.05)
        except OSError:
            pass  # the server hung up
        else:
            closed_after(sock, 1)
        assert time.monotonic() - start < 4


def test_a_kept_alive_connection_is_closed_after_the_idle_timeout(quick):
    request = b"GET /MAAS/metadata/latest/by-id/abc123/?op=get_preseed HTTP/1.1\r\nHost: x\r\n\r\n"
    with connect(quick) as sock:
        sock.sendall(request)
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 ") and b"Connection: close" not in first
        time.sleep(0.4)  # idle, but not for long: the connection still serves
        sock.sendall(request)
        sock.settimeout(5)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
        assert 0.8 < closed_after(sock, 6) < 4
    with connect(quick) as sock:  # after a response, half a header is no better than silence
        sock.sendall(request)
        sock.settimeout(5)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"GET /MAAS/metadata/ HTTP/1.1\r\nHost")
        assert 0.8 < closed_after(sock, 6) < 4


def test_a_body_that_does_not_arrive_in_time_is_a_408(quick):
    header = f'OAuth oauth_token="{quick.creds().token_key}"'
    with connect(quick) as sock:
        sock.sendall(f"POST /MAAS/metadata/status/abc123 HTTP/1.1\r\nHost: x\r\nAuthorization: {header}\r\n"
                     "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"event".encode())
        start = time.monotonic()
        sock.settimeout(6)
        answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 408 ") and answer.endswith(b"Request body not received within 1 s.")
        assert 0.9 < time.monotonic() - start < 4
        assert closed_after(sock, 6) < 2
    assert quick.events() == []


def test_slow_downloads_and_slow_readers_are_not_cut_off(quick):
    """Timeouts are for requests that do not come, not for responses that take long."""
    with connect(quick) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        sock.sendall(b"GET /images/root.tgz HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        start = time.monotonic()
        sock.settimeout(5)
        while len(received.partition(b"\r\n\r\n")[2]) < MiB and time.monotonic() - start < 30:
            chunk = sock.recv(16384)  # 64 reads or more, 40 ms apart
            if not chunk:
                break
            received += chunk
            time.sleep(0.04)
        head, _, body = received.partition(b"\r\n\r\n")
        assert time.monotonic() - start > 2  # longer than every timeout
        assert head.startswith(b"HTTP/1.1 200 ") and len(body) == MiB
    # and a header sent in pieces, each well within the timeout, is served
    with connect(quick) as sock:
        for piece in (b"GET /MAAS/metadata/latest/by-id/abc123/", b"?op=get_preseed HTTP/1.1\r\n", b"Host: x\r\n\r\n"):
            sock.sendall(piece)
            time.sleep(0.3)
        sock.settimeout(5)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
