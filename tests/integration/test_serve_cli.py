"""`maaslike serve` as an operator runs it, with the shipped example inventory."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading

import requests
import yaml

from .servers import ServeProcess, free_port


def example(repo: str) -> str:
    return os.path.join(repo, "config", "examples", "nodes.yaml")


def preseed(server: ServeProcess, system_id: str) -> dict:
    answer = requests.get(server.preseed_url(system_id), timeout=10)
    assert answer.status_code == 200 and answer.text.startswith("#cloud-config\n")
    return yaml.safe_load(answer.text)


def test_example_inventory_serves_preseeds_crawls_and_survives_restart(tmp_path, repo, maaslike_cmd):
    state = str(tmp_path / "state")
    server = ServeProcess(example(repo), state)
    try:
        deploying = preseed(server, "abc123")
        maas = deploying["datasource"]["MAAS"]
        assert maas["metadata_url"] == server.url + "/MAAS/metadata/curtin"
        assert deploying["power_state"]["mode"] == "reboot"
        assert preseed(server, "ghi789")["datasource"]["MAAS"]["metadata_url"] == \
            server.url + "/MAAS/metadata/"

        crawl = subprocess.run([*maaslike_cmd, "crawl", "--preseed-url", server.preseed_url("def456"),
                                "--skew-file", str(tmp_path / "skew.json")],
                               capture_output=True, text=True, timeout=60)
        assert crawl.returncode == 0, crawl.stderr
        assert json.loads(crawl.stdout)["instance-id"] == "def456"

        endpoint = server.url + "/MAAS/metadata/status/abc123"
        header = f'OAuth oauth_token="{maas["token_key"]}"'  # MAAS checks nothing else here
        event = {"event_type": "start", "origin": "curtin", "name": "cmd-install", "description": "go"}
        assert requests.post(endpoint, json=event, headers={"Authorization": header},
                             timeout=10).status_code == 204
    finally:
        assert server.stop() == 0
    log = server.log()
    assert "shutting down" in log and "Traceback" not in log
    assert maas["token_secret"] not in log
    with open(os.path.join(state, "credentials.json")) as handle:
        saved = handle.read()
    assert oct(os.stat(os.path.join(state, "credentials.json")).st_mode & 0o777) == "0o600"

    again = ServeProcess(example(repo), state, port=server.port)
    try:
        assert preseed(again, "abc123")["datasource"]["MAAS"] == maas  # same credentials
        shown = requests.get(again.url + "/maaslike/nodes/abc123/events", timeout=10).json()
        assert [e["name"] for e in shown["events"] if e["kind"] == "event"] == ["cmd-install"]
    finally:
        assert again.stop() == 0
    with open(os.path.join(state, "credentials.json")) as handle:
        assert handle.read() == saved


def test_sigterm_lets_requests_in_flight_finish(tmp_path, repo):
    server = ServeProcess(example(repo), str(tmp_path / "state"), "--latency", "1.0")
    results = []
    slow = threading.Thread(target=lambda: results.append(
        requests.get(server.preseed_url("abc123"), timeout=20).status_code))
    slow.start()
    threading.Event().wait(0.4)  # the request is inside the server now
    assert server.stop() == 0
    slow.join()
    assert results == [200]


def run_serve(maaslike_cmd, *args):
    return subprocess.run([*maaslike_cmd, "serve", *args], capture_output=True, text=True, timeout=30)


def test_startup_errors_are_one_line(tmp_path, repo, maaslike_cmd):
    bad = tmp_path / "nodes.yaml"
    bad.write_text("nodes:\n  - {system_id: a, hostname: h, status: dancing}\n")
    done = run_serve(maaslike_cmd, "--nodes", str(bad), "--state-dir", str(tmp_path / "s"))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"maaslike serve: error: {bad}: nodes[0].status: unknown status 'dancing' (one of "
        + done.stderr.split("(one of ", 1)[1].strip()]

    done = run_serve(maaslike_cmd, "--nodes", example(repo), "--state-dir", str(tmp_path / "s"),
                     "--images", str(tmp_path / "no-such-dir"))
    assert (done.returncode, done.stderr.strip()) == (
        2, f"maaslike serve: error: --images: not a directory: {tmp_path / 'no-such-dir'}")

    with socket.socket() as taken:
        port = free_port()
        taken.bind(("127.0.0.1", port))
        taken.listen()
        done = run_serve(maaslike_cmd, "--nodes", example(repo), "--state-dir", str(tmp_path / "s"),
                         "--port", str(port))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == \
        f"maaslike serve: error: cannot listen on 127.0.0.1:{port}: Address already in use"


def test_operator_templates_come_first_by_maas_names(tmp_path, repo):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "curtin_debian_amd64_generic_bookworm_node1").write_text(
        "{{preseed_data}}# rendered for {{node.hostname}} by the operator's template\n")
    server = ServeProcess(example(repo), str(tmp_path / "state"), "--templates", str(templates))
    try:
        node1 = requests.get(server.preseed_url("abc123"), timeout=10).text
        node2 = requests.get(server.preseed_url("def456"), timeout=10).text
    finally:
        server.stop()
    assert node1.endswith("# rendered for node1 by the operator's template\n")
    assert yaml.safe_load(node1)["datasource"]["MAAS"]["metadata_url"].endswith("/MAAS/metadata/curtin")
    assert "operator" not in node2 and node2.startswith("#cloud-config\n")
