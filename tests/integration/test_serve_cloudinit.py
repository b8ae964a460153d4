"""Real cloud-init against `maaslike serve`: its own MAAS datasource, and ours.

cloud-init 22.4.2 (Debian 12) and 25.1.4 (Debian 13), unpacked, boot in a
private root (see tests/harness/ciroot.py) against a `maaslike serve`
process running the shipped example inventory.  Two moments of a deploy:

* the ephemeral boot: ``cloud-config-url=`` on the kernel command line, the
  anonymous preseed gives the credentials, and the datasource reads the
  curtin tree, whose user-data is the install payload;
* the installed system: no command line, only the ``cloudconfig`` files the
  payload installs; reading the plain tree's user-data ends the deployment.

With ``MAAS`` a 99_ snippet (sorting after our shipped 90_maaslike.cfg) makes
cloud-init use its own DataSourceMAAS; with ``MAASLike`` ours is used.
"""

from __future__ import annotations

import os

import pytest
import requests
import yaml

from cloudinit_maaslike.oauth import Credentials, Signer
from cloudinit_maaslike.payload import decode
from tests.harness import ciroot

from .servers import ServeProcess

pytestmark = [pytest.mark.cloudinit, pytest.mark.root]

SKIP = ciroot.can_run()
VERSIONS = sorted(ciroot.versions()) or ["22.4.2", "25.1.4"]
DATASOURCES = ["MAAS", "MAASLike"]


@pytest.fixture(params=[(v, d) for v in VERSIONS for d in DATASOURCES],
                ids=lambda p: f"{p[0]}-{p[1]}")
def case(request):
    if SKIP:
        pytest.skip(SKIP)
    return request.param


@pytest.fixture
def server(tmp_path, repo):
    serve = ServeProcess(os.path.join(repo, "config", "examples", "nodes.yaml"), str(tmp_path / "state"))
    yield serve
    serve.stop()


def boot(tmp_path, version, datasource, cmdline, snippets=None) -> ciroot.PrivateRoot:
    snippets = dict(snippets or {})
    if datasource == "MAAS":
        snippets["99_serve_test.cfg"] = "datasource_list: [ MAAS ]\n"
    return ciroot.PrivateRoot(str(tmp_path / "root"), version, cmdline=cmdline, snippets=snippets)


def credentials_from_preseed(server, system_id) -> Credentials:
    text = requests.get(server.preseed_url(system_id), timeout=10).text
    maas = yaml.safe_load(text)["datasource"]["MAAS"]
    return Credentials(maas["consumer_key"], maas["token_key"], maas["token_secret"])


def fetch(server, path, creds) -> bytes:
    url = server.url + path
    answer = requests.get(url, headers={"Authorization": Signer(creds).sign(url)[0]}, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.content


def read(path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def node_view(server, system_id) -> dict:
    return requests.get(f"{server.url}/maaslike/nodes/{system_id}/events", timeout=10).json()


def assert_found(root, datasource, instance_id) -> None:
    assert read(os.path.join(root.cloud_dir, "data", "instance-id")).strip() == instance_id.encode()
    found = read(os.path.join(root.instance_dir(), "datasource")).decode()
    assert found.split(":")[0] == f"DataSource{datasource}"


def test_ephemeral_boot_reads_the_install_payload(tmp_path, case, server):
    version, datasource = case
    root = boot(tmp_path, version, datasource, f"ro cloud-config-url={server.preseed_url('abc123')}")
    run = root.cloudinit("init")
    assert run.returncode == 0, run.stderr[-3000:]
    assert_found(root, datasource, "abc123")

    creds = credentials_from_preseed(server, "abc123")
    payload = fetch(server, "/MAAS/metadata/curtin/latest/user-data", creds)
    assert read(os.path.join(root.instance_dir(), "user-data.txt")) == payload
    assert decode(payload).command[-1] == "cp:///media/root-ro"

    shown = node_view(server, "abc123")
    assert shown["status"] == "deploying"  # the curtin tree does not end a deployment
    names = {e.get("name") for e in shown["events"] if e["kind"] == "event"}
    assert f"init-network/search-{datasource}" in names  # cloud-init's reporting reached us
    if datasource == "MAASLike":  # cloud-init's own MAAS datasource logs its headers
        assert creds.token_secret not in run.stderr + root.log()


def test_installed_system_reads_its_user_data_and_ends_the_deployment(tmp_path, case, server):
    version, datasource = case
    creds = credentials_from_preseed(server, "abc123")
    payload = decode(fetch(server, "/MAAS/metadata/curtin/latest/user-data", creds))
    files = {}
    for _name, text in payload.configs:
        for entry in (yaml.safe_load(text).get("cloudconfig") or {}).values():
            files[os.path.basename(entry["path"])] = entry["content"]
    assert sorted(files) == ["90_maas_cloud_config.cfg", "90_maas_cloud_init_reporting.cfg",
                             "90_maas_datasource.cfg"]

    root = boot(tmp_path, version, datasource, "ro root=/dev/vda1", snippets=files)
    run = root.cloudinit("init")
    assert run.returncode == 0, run.stderr[-3000:]
    assert_found(root, datasource, "abc123")
    assert read(os.path.join(root.instance_dir(), "user-data.txt")) == \
        b'#cloud-config\nfinal_message: "node1 is up"\n'

    shown = node_view(server, "abc123")
    assert shown["status"] == "deployed"
    moves = [e for e in shown["events"] if e["kind"] == "status"]
    assert [(m["previous"], m["status"], m["why"]) for m in moves] == [
        ("deploying", "deployed", "user-data read")]
