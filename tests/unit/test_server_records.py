"""What nodes say is kept per node, survives restarts, and shows no secret."""

import base64
import bz2
import json
import os
import stat

import pytest

from cloudinit_maaslike.errors import ConfigError
from cloudinit_maaslike.oauth import Credentials, Signer
from cloudinit_maaslike.privatefile import write_private
from cloudinit_maaslike.server import eventfiles
from cloudinit_maaslike.server.api import Request
from cloudinit_maaslike.server.diskwriter import DiskWriter
from cloudinit_maaslike.server.eventfiles import BadEventFile, decode_event_files
from cloudinit_maaslike.server.inventory import parse_inventory
from cloudinit_maaslike.server.state import ServerOptions, build_api

BASE = "http://127.0.0.1:5248"
NODES = {"nodes": [
    {"system_id": "abc123", "hostname": "node1", "user_data": "#cloud-config\n{}\n"},
    {"system_id": "def456", "hostname": "node2", "status": "commissioning"},
]}
LOG_TEXT = b"curtin log with token_secret inside\n"


def make_api(state_dir, nodes=NODES):
    return build_api(parse_inventory(nodes, "test"), ServerOptions(state_dir=str(state_dir)))


def signed(api, system_id, method, path, **fields):
    t = api.credentials.for_node(system_id)
    url = BASE + path
    header = Signer(Credentials(t.consumer_key, t.token_key, t.token_secret)).sign(url, method)[0]
    return api.handle(Request(method, path, {}, {"Authorization": header}, url, BASE, **fields))


def event(api, system_id, **message):
    body = {"event_type": "finish", "origin": "curtin", "name": "cmd-install",
            "description": "done", **message}
    return signed(api, system_id, "POST", f"/MAAS/metadata/status/{system_id}",
                  body=json.dumps(body).encode("ascii"))


def view(api, system_id):
    answer = api.node_view(system_id)
    assert answer.status == 200 and answer.content_type == "application/json"
    return answer.body.decode()


def test_events_with_files_are_stored_apart_and_listed_by_name_and_size(tmp_path):
    api = make_api(tmp_path)
    secret = api.credentials.for_node("abc123").token_secret
    files = [{"path": "/tmp/install.log", "encoding": "base64",
              "content": base64.b64encode(LOG_TEXT + secret.encode()).decode()},
             {"path": "/tmp/curtin-logs.tar", "encoding": "base64", "compression": "bzip2",
              "content": base64.b64encode(bz2.compress(b"tar" * 1000)).decode()}]
    assert event(api, "abc123", result="SUCCESS", files=files).status == 204
    shown = json.loads(view(api, "abc123"))
    listed = shown["events"][-1]["files"]
    assert listed == [{"name": "/tmp/install.log", "size": len(LOG_TEXT) + len(secret)},
                      {"name": "/tmp/curtin-logs.tar", "size": 3000}]
    text = view(api, "abc123")
    assert secret not in text and "curtin log" not in text
    stored = sorted(os.listdir(tmp_path / "nodes" / "abc123" / "files"))
    assert stored == ["00001-install.log", "00002-curtin-logs.tar"]
    path = tmp_path / "nodes" / "abc123" / "files" / stored[0]
    assert path.read_bytes().startswith(LOG_TEXT)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_signal_files_are_stored_and_the_status_moves(tmp_path):
    api = make_api(tmp_path)
    answer = signed(api, "def456", "POST", "/MAAS/metadata/latest/", form={"op": "signal", "status": "OK"},
                    files=[("00-maas-01-cpuinfo.out", b"cpu data")])
    assert (answer.status, answer.body) == (200, b"OK")
    record = api.records["def456"]
    assert record.status == "ready"
    signal = [e for e in record.events if e["kind"] == "signal"][-1]
    assert signal["files"] == [{"name": "00-maas-01-cpuinfo.out", "size": 8}]
    assert record.events[-1] == {**record.events[-1], "kind": "status", "status": "ready",
                                 "previous": "commissioning"}


def test_signal_messages_are_maas_ones(tmp_path):
    api = make_api(tmp_path)
    missing = signed(api, "abc123", "POST", "/MAAS/metadata/latest/", form={"op": "signal"})
    assert (missing.status, missing.body) == (400, b"No provided status!")
    unknown = signed(api, "abc123", "POST", "/MAAS/metadata/latest/", form={"op": "signal", "status": "MEH"})
    assert (unknown.status, unknown.body) == (400, b"Unknown status: 'MEH'")


def test_failure_event_fails_the_deployment(tmp_path):
    api = make_api(tmp_path)
    assert event(api, "abc123", result="FAIL", description="curtin exploded").status == 204
    record = api.records["abc123"]
    assert record.status == "failed-deployment"
    assert record.error_description.startswith("Installation failed")


def test_a_restart_keeps_events_status_and_credentials(tmp_path):
    api = make_api(tmp_path)
    before = api.credentials.for_node("abc123")
    assert event(api, "abc123", event_type="start", description="go").status == 204
    assert signed(api, "abc123", "GET", "/MAAS/metadata/latest/user-data").status == 200
    assert api.records["abc123"].status == "deployed"
    assert signed(api, "abc123", "POST", "/MAAS/metadata/latest/", form={"op": "netboot_off"}).body == b"OK"

    again = make_api(tmp_path)
    assert again.credentials.for_node("abc123") == before
    record = again.records["abc123"]
    assert (record.status, record.netboot) == ("deployed", False)
    kinds = [e["kind"] for e in record.events]
    assert kinds == ["event", "status", "netboot"]
    assert record.events[-1]["description"] == "Node disabled netboot"
    assert stat.S_IMODE(os.stat(tmp_path / "credentials.json").st_mode) == 0o600


def test_changing_the_inventory_status_starts_the_node_over(tmp_path):
    api = make_api(tmp_path)
    assert signed(api, "abc123", "GET", "/MAAS/metadata/latest/user-data").status == 200
    assert make_api(tmp_path).records["abc123"].status == "deployed"
    changed = {"nodes": [dict(NODES["nodes"][0], status="commissioning"), NODES["nodes"][1]]}
    assert make_api(tmp_path, changed).records["abc123"].status == "commissioning"


def test_bad_event_files_are_refused(monkeypatch):
    with pytest.raises(BadEventFile, match="'x' is not valid base64"):
        decode_event_files([{"path": "x", "content": "!!!", "encoding": "base64"}])
    with pytest.raises(BadEventFile, match="unknown encoding 'rot13'"):
        decode_event_files([{"path": "x", "content": "", "encoding": "rot13"}])
    with pytest.raises(BadEventFile, match="not valid bzip2"):
        decode_event_files([{"path": "x", "content": "YWJj", "compression": "bzip2"}])
    monkeypatch.setattr(eventfiles, "MAX_FILE_BYTES", 1000)
    bomb = base64.b64encode(bz2.compress(b"\0" * 1001)).decode()
    with pytest.raises(BadEventFile, match="inflates to more than"):
        decode_event_files([{"path": "x", "content": bomb, "compression": "bzip2"}])
    with pytest.raises(BadEventFile, match=r"files\[0\] needs path and content"):
        decode_event_files(["nope"])


def test_a_bad_event_file_is_a_400_and_nothing_is_recorded(tmp_path):
    api = make_api(tmp_path)
    answer = event(api, "abc123", files=[{"path": "x", "content": "!!!"}])
    assert (answer.status, answer.body) == (400, b"Bad status message: file 'x' is not valid base64.")
    assert api.records["abc123"].events == []


def test_unknown_status_and_bad_source_in_the_inventory_are_config_errors():
    with pytest.raises(ConfigError) as caught:
        parse_inventory({"nodes": [{"system_id": "a", "hostname": "h", "status": "dancing"}]}, "f.yaml")
    assert caught.value.path == "nodes[0].status"
    with pytest.raises(ConfigError) as caught:
        parse_inventory({"nodes": [{"system_id": "a", "hostname": "h", "source": "bogus:thing"}]}, "f")
    assert caught.value.path == "nodes[0].source"
    with pytest.raises(ConfigError) as caught:
        parse_inventory({"nodes": [{"system_id": "a", "hostname": "h", "release": "../../x"}]}, "f")
    assert caught.value.path == "nodes[0].release"
    nodes = parse_inventory({"nodes": [{"system_id": "a", "hostname": "h", "status": "Failed deployment",
                                        "source": "dd-raw:http://x/disk.img"}]}, "f")
    assert nodes[0].status == "failed-deployment"


def test_the_servers_disk_writer_keeps_order_and_finishes_on_close(tmp_path, caplog):
    writer = DiskWriter()
    api = build_api(parse_inventory(NODES, "test"), ServerOptions(state_dir=str(tmp_path)), writer)
    for number in range(50):
        assert event(api, "abc123", event_type="start", description=f"step {number}").status == 204
    assert signed(api, "abc123", "GET", "/MAAS/metadata/latest/user-data").status == 200
    api.close()
    again = make_api(tmp_path)
    descriptions = [e.get("description") for e in again.records["abc123"].events if e["kind"] == "event"]
    assert descriptions == [f"step {n}" for n in range(50)]
    assert again.records["abc123"].status == "deployed"

    (tmp_path / "file-not-dir").write_text("a file where a directory should be")
    failing = DiskWriter()
    failing.submit(write_private, str(tmp_path / "file-not-dir" / "x"), "data")
    failing.flush()
    failing.close()
    assert [r.getMessage() for r in caplog.records if r.name.endswith("diskwriter")] == [
        f"cannot write {tmp_path / 'file-not-dir' / 'x'}: File exists ({tmp_path / 'file-not-dir'})"]


def test_a_secret_a_node_sends_in_an_event_is_not_shown(tmp_path):
    api = make_api(tmp_path)
    secret = api.credentials.for_node("abc123").token_secret
    assert event(api, "abc123", description=f"debug: token_secret={secret}").status == 204
    shown = view(api, "abc123")
    assert secret not in shown and "debug: token_secret=<redacted>" in shown
