"""The stand-in server's defences, piece by piece, without sockets (issue 11 point 9).

The same defences over real HTTP are in tests/integration/test_serve_hostile.py.
"""

from __future__ import annotations

import argparse
import base64
import bz2
import io
import json
import os
import tracemalloc

import pytest

from cloudinit_maaslike.cli import serve as serve_cli
from cloudinit_maaslike.errors import ConfigError
from cloudinit_maaslike.oauth import HMAC_SHA1, Credentials, Signer
from cloudinit_maaslike.server import eventfiles
from cloudinit_maaslike.server.api import BadPayload, Request, read_status_message
from cloudinit_maaslike.server.eventfiles import (
    CHUNK,
    AttachmentLimits,
    AttachmentTooLarge,
    BadEventFile,
    EventFile,
    parse_event_files,
    shown,
)
from cloudinit_maaslike.server.guard import HeaderGuard
from cloudinit_maaslike.server.inventory import load_inventory, parse_inventory
from cloudinit_maaslike.server.records import NodeRecord
from cloudinit_maaslike.server.state import ServerOptions, build_api

MiB = 1024 * 1024
BASE = "http://127.0.0.1:5248"
NODES = {"nodes": [{"system_id": "abc123", "hostname": "node1"},
                   {"system_id": "def456", "hostname": "node2", "status": "commissioning"}]}


def b64(data: bytes, wrap: int = 0) -> str:
    text = base64.b64encode(data).decode()
    if wrap:  # as base64(1) writes it: lines of `wrap` characters
        text = "\n".join(text[i:i + wrap] for i in range(0, len(text), wrap))
    return text


def decoded(item: EventFile) -> bytes:
    chunks = list(item.chunks())
    assert all(0 < len(c) <= CHUNK for c in chunks)
    return b"".join(chunks)


# -- decoding attachments in chunks ----------------------------------------------


@pytest.mark.parametrize("wrap", [0, 76, 1000])
def test_chunked_decoding_gives_the_same_bytes(wrap):
    data = os.urandom(700_000) + b"\0" * (3 * MiB) + b"end"
    (plain, packed), = [parse_event_files([
        {"path": "p", "content": b64(data, wrap)},
        {"path": "c", "content": b64(bz2.compress(data), wrap), "compression": "bzip2"}])]
    assert decoded(plain) == data and decoded(packed) == data


def test_base64_is_checked_across_chunk_boundaries(monkeypatch):
    monkeypatch.setattr(eventfiles, "_BASE64_STEP", 8)
    ok = EventFile("p", "QUJD\nREVG\n R0hJ SktM TQ==")
    assert decoded(ok) == b"ABCDEFGHIJKLM"
    for content in ("QUJDRA==QUJD", "QUJDREVGR0hJSktMTQ=", "QUJD!!!!", "QUJDREVGR0\u00e9"):
        with pytest.raises(BadEventFile, match="'p' is not valid base64"):
            decoded(EventFile("p", content))


def test_bzip2_streams_like_bz2_decompress():
    two = bz2.compress(b"one ") + bz2.compress(b"two")
    assert decoded(EventFile("p", b64(two), "bzip2")) == b"one two"
    # What follows the last whole stream is ignored, as bz2.decompress ignores it.
    assert decoded(EventFile("p", b64(bz2.compress(b"x") + b"trailing junk"), "bzip2")) == b"x"
    with pytest.raises(BadEventFile, match="'p' is not valid bzip2 \\(it ends too early\\)"):
        decoded(EventFile("p", b64(bz2.compress(b"x" * 10000)[:-10]), "bzip2"))
    assert list(EventFile("p", "", "bzip2").chunks()) == []


def test_a_bomb_is_inflated_one_chunk_at_a_time():
    bomb = EventFile("bomb", b64(bz2.compress(b"\0" * (64 * MiB))), "bzip2")
    tracemalloc.start()
    try:
        total = sum(len(chunk) for chunk in bomb.chunks())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 64 * MiB
    assert peak < 4 * CHUNK, f"decoding held {peak // MiB} MiB at once"


def test_entries_are_checked_before_anything_is_decoded():
    with pytest.raises(BadEventFile, match=r"files\[0\]: path must be a string, not a list"):
        parse_event_files([{"path": [[[]]], "content": ""}])
    with pytest.raises(BadEventFile, match="unknown compression 'xz'"):
        parse_event_files([{"path": "p", "content": "", "compression": "xz"}])
    with pytest.raises(BadEventFile, match=r"unknown encoding a dict"):
        parse_event_files([{"path": "p", "content": "", "encoding": {"deep": [[1]]}}])
    long = "x" * 10_000
    with pytest.raises(BadEventFile) as caught:
        parse_event_files([{"path": long, "content": "", "encoding": long}])
    assert len(str(caught.value)) < 120


def test_shown_never_grows_with_the_input():
    assert shown("abc") == "'abc'" and shown(1.5) == "1.5" and shown(None) == "None"
    assert shown("x" * 1000) == "'" + "x" * 39 + "…"
    nested: list = []
    for _ in range(100_000):
        nested = [nested]
    assert shown(nested) == "a list" and shown({"a": 1}) == "a dict"


# -- status messages ------------------------------------------------------------


VALID = {"event_type": "finish", "origin": "curtin", "name": "cmd-install", "description": "d"}


@pytest.mark.parametrize("body", [
    b"[" * 100_000,
    b"{" * 100_000,
    b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    b"[]",
    b"null",
    b"12",
    b"",
    b"\xff\xfe{}",
    b'{"a": "\xc3\xa9"}',
    b'{"a": 1' + b"0" * 5000 + b"}",
    b'{"a": NaN}',
    b'{"a": -Infinity}',
    json.dumps({**VALID, "name": ["x"]}).encode(),
    json.dumps({**VALID, "description": None}).encode(),
    json.dumps({**VALID, "origin": 5}).encode(),
    json.dumps({**VALID, "result": {"x": 1}}).encode(),
    json.dumps({**VALID, "level": []}).encode(),
    json.dumps({**VALID, "timestamp": "1700000000"}).encode(),
    json.dumps({**VALID, "timestamp": True}).encode(),
    json.dumps({**VALID, "timestamp": 10 ** 300}).encode(),
    json.dumps({**VALID, "timestamp": [1]}).encode(),
    json.dumps({**VALID, "timestamp": 1e308 * 10}).encode(),  # Infinity
    json.dumps({k: v for k, v in VALID.items() if k != "name"}).encode(),
])
def test_malformed_status_messages_are_one_line_refusals(body):
    with pytest.raises(BadPayload) as caught:
        read_status_message(body)
    message = str(caught.value)
    assert "\n" not in message and len(message) < 150
    assert message.startswith(("Status payload must be", "Bad status message: ", "Missing parameter(s) "))


def test_well_formed_status_messages_pass():
    assert read_status_message(json.dumps({**VALID, "timestamp": 1700000000.25, "result": "SUCCESS",
                                           "level": None, "extra": [[[]]]}).encode())["result"] == "SUCCESS"
    assert read_status_message(json.dumps({**VALID, "timestamp": 0}).encode())["timestamp"] == 0


# -- storing attachments ----------------------------------------------------------


def chunks_of(data: bytes, size: int = 1000):
    return (data[i:i + size] for i in range(0, len(data), size))


def test_attachments_stop_at_the_cap_per_event_and_leave_nothing(tmp_path):
    record = NodeRecord(str(tmp_path / "abc123"), "deploying")
    limits = AttachmentLimits(per_event=10_000, per_node=100_000)
    with pytest.raises(AttachmentTooLarge, match="decode to more than 10000 bytes, the cap per event"):
        record.store_attachments([("a", chunks_of(b"a" * 6000)), ("b", chunks_of(b"b" * 6000))], limits)
    assert os.listdir(tmp_path / "abc123" / "files") == [] and record.attached_bytes == 0

    def broken():
        yield b"x" * 500
        raise BadEventFile("file 'b' is not valid bzip2")

    with pytest.raises(BadEventFile):
        record.store_attachments([("a", chunks_of(b"a" * 100)), ("b", broken())], limits)
    assert os.listdir(tmp_path / "abc123" / "files") == []

    shown_files = record.store_attachments([("/tmp/a.log", chunks_of(b"a" * 5000)), ("b", [b"b" * 5000])], limits)
    assert shown_files == [{"name": "/tmp/a.log", "size": 5000}, {"name": "b", "size": 5000}]
    assert sorted(os.listdir(tmp_path / "abc123" / "files")) == ["00001-a.log", "00002-b"]
    assert record.attached_bytes == 10_000


def test_the_cap_per_node_is_kept_across_restarts(tmp_path):
    limits = AttachmentLimits(per_event=10_000, per_node=25_000)
    record = NodeRecord(str(tmp_path / "abc123"), "deploying")
    record.store_attachments([("one", [b"1" * 10_000])], limits)
    record.store_attachments([("two", [b"2" * 10_000])], limits)
    with pytest.raises(AttachmentTooLarge, match=r"past its cap of 25000 bytes of stored files \(20000 kept"):
        record.store_attachments([("three", [b"3" * 10_000])], limits)

    files = tmp_path / "abc123" / "files"
    (files / ".partial-crashed").write_bytes(b"x" * 9999)  # a write a crash cut short
    os.unlink(files / "00001-one")  # the operator makes room
    again = NodeRecord(str(tmp_path / "abc123"), "deploying")
    assert again.attached_bytes == 10_000
    assert again.store_attachments([("three", [b"3" * 10_000])], limits)[0]["size"] == 10_000
    assert sorted(os.listdir(files)) == ["00002-two", "00003-three"]  # numbers go on, nothing overwritten


def test_attached_file_names_are_made_safe(tmp_path):
    record = NodeRecord(str(tmp_path / "abc123"), "deploying")
    limits = AttachmentLimits()
    record.store_attachments([("../../etc/passwd", [b"x"]), ("a\0b c" + "d" * 500, [b"y"]), ("...", [b""])], limits)
    names = sorted(os.listdir(tmp_path / "abc123" / "files"))
    assert names == ["00001-passwd", "00002-a_b_c" + "d" * 95, "00003-file"]


def signed(api, system_id, method, path, **fields):
    t = api.credentials.for_node(system_id)
    url = BASE + path
    header = Signer(Credentials(t.consumer_key, t.token_key, t.token_secret)).sign(url, method)[0]
    return api.handle(Request(method, path, {}, {"Authorization": header}, url, BASE, **fields))


def event(api, system_id, files):
    body = json.dumps({**VALID, "files": files}).encode()
    return signed(api, system_id, "POST", f"/MAAS/metadata/status/{system_id}", body=body)


def test_too_many_files_is_a_413(tmp_path):
    api = build_api(parse_inventory(NODES, "test"), ServerOptions(state_dir=str(tmp_path)))
    answer = event(api, "abc123", [{"path": "x", "content": ""}] * 1001)
    assert (answer.status, answer.body) == (
        413, b"Attached files refused: 1001 files attached, more than the 1000 one event may have.")
    answer = signed(api, "def456", "POST", "/MAAS/metadata/latest/", form={"op": "signal", "status": "OK"},
                    files=[(f"{n}.out", b"") for n in range(1001)])
    assert answer.status == 413 and b"1001 files attached" in answer.body
    assert not os.path.exists(tmp_path / "nodes" / "abc123" / "files")
    assert not os.path.exists(tmp_path / "nodes" / "def456" / "files")


def test_the_api_answers_413_and_500_with_one_line(tmp_path):
    options = ServerOptions(state_dir=str(tmp_path), max_event_attachments=1000, max_node_attachments=1500)
    api = build_api(parse_inventory(NODES, "test"), options)
    bomb = [{"path": "x", "content": b64(bz2.compress(b"\0" * 2000)), "compression": "bzip2"}]
    answer = event(api, "abc123", bomb)
    assert (answer.status, answer.body) == (
        413, b"Attached files refused: attached files decode to more than 1000 bytes, the cap per event.")
    assert api.records["abc123"].events == []
    assert api.is_slow(Request("POST", "/MAAS/metadata/status/abc123", {}, {}, "", "",
                               body=json.dumps({**VALID, "files": bomb}).encode()))

    # Signals: multipart files arrive as open files and are streamed too.
    answer = signed(api, "def456", "POST", "/MAAS/metadata/latest/", form={"op": "signal", "status": "OK"},
                    files=[("a.out", io.BytesIO(b"a" * 800)), ("b.out", io.BytesIO(b"b" * 800))])
    assert answer.status == 413 and api.records["def456"].status == "commissioning"
    answer = signed(api, "def456", "POST", "/MAAS/metadata/latest/", form={"op": "signal", "status": "OK"},
                    files=[("a.out", io.BytesIO(b"a" * 800))])
    assert (answer.status, answer.body) == (200, b"OK")

    (tmp_path / "nodes" / "abc123" / "files").rmdir()  # empty: the refused bomb left nothing
    (tmp_path / "nodes" / "abc123" / "files").write_text("a file where the files dir should be")
    answer = event(api, "abc123", [{"path": "x", "content": b64(b"small")}])
    assert answer.status == 500
    assert answer.body == b"Cannot store the attached files of abc123: File exists"


def test_a_query_oauthlib_cannot_read_is_an_invalid_signature(tmp_path):
    api = build_api(parse_inventory(NODES, "test"), ServerOptions(state_dir=str(tmp_path)))
    t = api.credentials.for_node("abc123")
    path = "/MAAS/metadata/latest/meta-data/instance-id"
    signer = Signer(Credentials(t.consumer_key, t.token_key, t.token_secret), method=HMAC_SHA1)
    for query in ('a="b"', "c=<d>", "e=%zz"):
        header = signer.sign(BASE + path)[0]
        answer = api.handle(Request("GET", path, {}, {"Authorization": header}, f"{BASE}{path}?{query}", BASE))
        assert (answer.status, answer.body) == (401, b"Authorization Error: 'Invalid signature.'")


def test_a_deeply_nested_inventory_is_a_config_error_not_a_crash(tmp_path):
    """libyaml's composer has no recursion limit: 100,000 levels used to be a segfault."""
    for name, text in (("flow", "nodes: " + "[" * 100_000 + "]" * 100_000),
                       ("block", "nodes:\n  " + "- " * 100_000 + "x")):
        path = tmp_path / f"{name}.yaml"
        path.write_text(text)
        with pytest.raises(ConfigError, match="nests too deeply"):
            load_inventory(str(path))


# -- the header guard ---------------------------------------------------------------


class FakeHandler:
    def __init__(self):
        self.closed = False

    def force_close(self):
        self.closed = True


def test_the_guard_closes_connections_that_send_no_head_in_time():
    guard = HeaderGuard(10.0)
    silent, talker, late = FakeHandler(), FakeHandler(), FakeHandler()
    guard.sweep([silent, talker], now=100.0)  # first seen: 10 s from now
    guard.request_started(talker)
    guard.sweep([silent, talker, late], now=109.9)
    assert not silent.closed
    guard.sweep([silent, talker, late], now=110.0)
    assert (silent.closed, talker.closed, late.closed) == (True, False, False)
    guard.sweep([talker, late], now=119.0)
    assert not late.closed and not talker.closed  # a served connection is aiohttp's (idle timeout)
    guard.sweep([late], now=119.9)
    assert late.closed and guard.closed == 2
    guard.sweep([], now=200.0)
    assert guard._deadlines == {} and guard._served == set()  # nothing kept for gone connections
    assert HeaderGuard(0.1).interval == 0.05 and HeaderGuard(600).interval == 1.0


# -- maaslike serve's options -----------------------------------------------------------


def test_sizes_and_durations_on_the_command_line():
    assert serve_cli.parse_size("1048576") == MiB
    assert [serve_cli.parse_size(t) for t in ("512K", "64M", "64m", "1G", "1GiB", "2 MB")] == [
        512 * 1024, 64 * MiB, 64 * MiB, 1024 * MiB, 1024 * MiB, 2 * MiB]
    for bad in ("0", "-1", "1.5M", "lots", "", "10Q"):
        with pytest.raises(argparse.ArgumentTypeError, match="not a size"):
            serve_cli.parse_size(bad)
    assert serve_cli.parse_seconds("0.5") == 0.5
    for bad in ("0", "-3", "nan", "inf", "soon"):
        with pytest.raises(argparse.ArgumentTypeError, match="not a number of seconds"):
            serve_cli.parse_seconds(bad)


def test_serve_defaults_are_the_servers_and_reach_it(tmp_path, monkeypatch):
    parser = argparse.ArgumentParser()
    serve_cli.add_parser(parser)
    nodes = tmp_path / "nodes.yaml"
    nodes.write_text(json.dumps(NODES))
    args = parser.parse_args(["--nodes", str(nodes), "--state-dir", str(tmp_path / "state")])
    defaults = ServerOptions(state_dir="x")
    keys = ("max_body_size", "max_event_attachments", "max_node_attachments",
            "header_timeout", "idle_timeout", "body_timeout")
    assert {k: getattr(args, k) for k in keys} == {k: getattr(defaults, k) for k in keys}
    assert (defaults.max_body_size, defaults.max_event_attachments, defaults.max_node_attachments) == (
        64 * MiB, 256 * MiB, 1024 * MiB)

    seen = []
    monkeypatch.setattr("cloudinit_maaslike.server.runner.serve_forever", lambda n, o: seen.append(o))
    args = parser.parse_args(["--nodes", str(nodes), "--state-dir", str(tmp_path / "state"),
                              "--max-body-size", "1M", "--max-event-attachments", "2M",
                              "--max-node-attachments", "3M", "--header-timeout", "4",
                              "--idle-timeout", "5", "--body-timeout", "6"])
    assert serve_cli.run(args) == 0
    options = seen[0]
    assert [getattr(options, k) for k in keys] == [MiB, 2 * MiB, 3 * MiB, 4.0, 5.0, 6.0]
    assert options.attachment_limits == AttachmentLimits(2 * MiB, 3 * MiB)
