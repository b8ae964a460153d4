"""The preseed each status gets, as MAAS composes it (compose_preseed.py)."""

import pytest
import yaml

from cloudinit_maaslike.server.api import Request
from cloudinit_maaslike.server.inventory import parse_inventory
from cloudinit_maaslike.server.state import ServerOptions, build_api

BASE = "http://10.1.1.1:5248"
STATUSES = ["deploying", "deployed", "commissioning", "disk-erasing", "entering-rescue-mode",
            "rescue-mode", "ready", "allocated", "failed-deployment", "testing"]


@pytest.fixture
def api(tmp_path):
    nodes = [{"system_id": f"n-{s}", "hostname": f"h{i}", "status": s} for i, s in enumerate(STATUSES)]
    return build_api(parse_inventory({"nodes": nodes}, "t"), ServerOptions(state_dir=str(tmp_path)))


def preseed(api, system_id):
    path = f"/MAAS/metadata/latest/by-id/{system_id}/"
    answer = api.handle(Request("GET", path, {"op": "get_preseed"}, {}, BASE + path, BASE))
    assert answer.status == 200 and answer.body.startswith(b"#cloud-config\n")
    return yaml.safe_load(answer.body)


@pytest.mark.parametrize("status, tree, power, packages", [
    ("deploying", "curtin", ("reboot", 1800), None),
    ("deployed", "curtin", ("poweroff", 3600), None),
    ("commissioning", "", ("poweroff", 3600), ["python3-yaml", "python3-oauthlib"]),
    ("testing", "", ("poweroff", 3600), ["python3-yaml", "python3-oauthlib"]),
    ("disk-erasing", "", ("poweroff", 604800), ["python3-yaml", "python3-oauthlib", "nvme-cli"]),
    ("entering-rescue-mode", "", None, ["python3-yaml", "python3-oauthlib"]),
    ("rescue-mode", "", ("poweroff", 3600), ["python3-yaml", "python3-oauthlib"]),
    ("ready", "", ("poweroff", 3600), None),
    ("allocated", "", ("poweroff", 3600), None),
    ("failed-deployment", "", ("poweroff", 3600), None),
])
def test_each_status_gets_maas_preseed(api, status, tree, power, packages):
    data = preseed(api, f"n-{status}")
    token = api.credentials.for_node(f"n-{status}")
    assert data["datasource"] == {"MAAS": {
        "metadata_url": f"{BASE}/MAAS/metadata/{tree}", "consumer_key": token.consumer_key,
        "token_key": token.token_key, "token_secret": token.token_secret}}
    assert data["reporting"]["maas"]["endpoint"] == f"{BASE}/MAAS/metadata/status/n-{status}"
    assert data["manage_etc_hosts"] is True
    if power is None:
        assert "power_state" not in data
    else:
        assert (data["power_state"]["mode"], data["power_state"]["timeout"]) == power
        assert data["power_state"]["delay"] == "now"
    assert data.get("packages") == packages


def test_the_enlistment_preseed_has_no_credentials(api):
    path = "/MAAS/metadata/latest/enlist-preseed/"
    answer = api.handle(Request("GET", path, {"op": "get_enlist_preseed"}, {}, BASE + path, BASE))
    data = yaml.safe_load(answer.body)
    assert data["datasource"] == {"MAAS": {"metadata_url": BASE + "/MAAS/metadata/"}}
    assert data["power_state"]["mode"] == "poweroff"
