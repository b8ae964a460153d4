"""The curtin user-data a node receives: MAAS's parts, in MAAS's order, packed."""

import os

import pytest
import yaml

from cloudinit_maaslike.oauth import Credentials, Signer
from cloudinit_maaslike.payload import decode
from cloudinit_maaslike.server.api import Request
from cloudinit_maaslike.server.curtin_userdata import compose_curtin_configs, main_config
from cloudinit_maaslike.server.installsource import resolve_source
from cloudinit_maaslike.server.inventory import parse_inventory
from cloudinit_maaslike.server.oauthcheck import TokenSecrets
from cloudinit_maaslike.server.state import ServerOptions, build_api
from cloudinit_maaslike.server.templates import TemplateFailed

BASE = "http://10.0.0.2:5248"
STORAGE = {"version": 1, "config": [{"id": "sda", "type": "disk", "ptable": "gpt", "path": "/dev/sda"}]}
NETWORK = {"version": 2, "ethernets": {"eth0": {"dhcp4": True}}}
NODES = {"nodes": [
    {"system_id": "abc123", "hostname": "node1", "source": "dd-tgz:/images/bookworm.tgz",
     "curtin": {"storage": STORAGE, "network": NETWORK, "swap": {"size": "0B"},
                "late_commands": {"zz_mine": ["true"]}}},
    {"system_id": "def456", "hostname": "node2"},
]}
TOKEN = TokenSecrets("ck", "tk", "ts-secret")


@pytest.fixture
def api(tmp_path):
    return build_api(parse_inventory(NODES, "test"), ServerOptions(state_dir=str(tmp_path)))


def loaded(configs):
    return [yaml.safe_load(text) for text in configs]


def test_parts_come_in_maas_order_and_absent_ones_drop_out():
    node = parse_inventory(NODES, "t")[0]
    rendered = "late_commands:\n  maas: [true]\npower_state: {mode: reboot}\n"
    parts = loaded(compose_curtin_configs(node, TOKEN, BASE, rendered, "t", "SRC").configs)
    assert [sorted(p) for p in parts] == [
        ["partitioning_commands", "storage"],
        ["install", "reporting"],
        ["network", "network_commands"],
        ["swap"],
        ["cloudconfig"],
        ["debconf_selections", "late_commands"],
        ["late_commands"],  # the inventory's own curtin keys override everything
    ]
    assert parts[0]["storage"] == STORAGE and parts[2]["network"] == NETWORK
    bare = parse_inventory(NODES, "t")[1]
    assert len(compose_curtin_configs(bare, TOKEN, BASE, rendered, "t", "SRC").configs) == 3


def test_reporter_and_cloudconfig_point_at_this_server():
    node = parse_inventory(NODES, "t")[1]
    reporter, cloudconfig, _main = loaded(compose_curtin_configs(node, TOKEN, BASE, "{}", "t", "S").configs)
    assert reporter["reporting"]["maas"] == {
        "type": "webhook", "endpoint": BASE + "/MAAS/metadata/status/def456",
        "consumer_key": "ck", "token_key": "tk", "token_secret": "ts-secret"}
    assert reporter["install"]["post_files"] == ["/tmp/install.log", "/tmp/curtin-logs.tar"]
    files = cloudconfig["cloudconfig"]
    assert files["maas-datasource"] == {"path": "/etc/cloud/cloud.cfg.d/90_maas_datasource.cfg",
                                        "content": "datasource_list: [ MAAS ]"}
    datasource = yaml.safe_load(files["maas-cloud-config"]["content"])["datasource"]["MAAS"]
    assert datasource == {"metadata_url": BASE + "/MAAS/metadata/", "consumer_key": "ck",
                          "token_key": "tk", "token_secret": "ts-secret"}
    assert files["maas-cloud-config"]["content"].startswith("#cloud-config\n")


def test_template_output_is_post_processed_like_maas():
    config = main_config("#cloud-config\npower_state: {mode: reboot}\napt_proxy: x\n"
                         "debconf_selections: {maas: y}\n", "t", "bookworm")
    assert "power_state" not in config and "apt_proxy" not in config
    assert config["debconf_selections"] == {"maas": "y",
                                            "grub2": "grub2   grub2/update_nvram  boolean false"}
    assert config["late_commands"] == {}
    assert main_config("", "t", "precise")["power_state"] == {"mode": "reboot"}
    with pytest.raises(TemplateFailed, match="renders invalid YAML line 1"):
        main_config("a: [", "curtin_userdata", "x")
    with pytest.raises(TemplateFailed, match="renders a list, not a mapping"):
        main_config("- a\n", "curtin_userdata", "x")


def test_sources_on_this_server_become_absolute():
    assert resolve_source("", BASE) == "cp:///media/root-ro"
    assert resolve_source("dd-tgz:/images/a.tgz", BASE) == "dd-tgz:" + BASE + "/images/a.tgz"
    assert resolve_source("/images/root.tar.xz", BASE + "/") == BASE + "/images/root.tar.xz"
    assert resolve_source("http://mirror/x.tgz", BASE) == "http://mirror/x.tgz"


def test_shipped_template_gives_a_working_install_config(api):
    node = api.nodes["abc123"]
    userdata = api.documents.curtin_configs(node, "deploying", BASE)
    assert userdata.source == "dd-tgz:" + BASE + "/images/bookworm.tgz"
    main = yaml.safe_load(userdata.configs[5])
    assert main["late_commands"]["maas"][-2:] == [BASE + "/MAAS/metadata/latest/by-id/abc123/",
                                                  "op=netboot_off"]
    assert main["early_commands"]
    selections = main["debconf_selections"]["maas"]
    token = api.credentials.for_node("abc123")
    assert f"cloud-init/maas-metadata-url  string {BASE}/MAAS/metadata/" in selections
    assert f"oauth_token_secret={token.token_secret}" in selections


def test_payload_decodes_into_the_configs_and_the_command(api):
    c = api.credentials.for_node("abc123")
    url = BASE + "/MAAS/metadata/curtin/latest/user-data"
    header = Signer(Credentials(c.consumer_key, c.token_key, c.token_secret)).sign(url)[0]
    answer = api.handle(Request("GET", "/MAAS/metadata/curtin/latest/user-data", {},
                                {"Authorization": header}, url, BASE))
    assert answer.status == 200 and answer.content_type == "application/octet-stream"
    payload = decode(answer.body)
    expected = api.documents.curtin_configs(api.nodes["abc123"], "deploying", BASE)
    assert tuple(text for _name, text in payload.configs) == expected.configs
    assert [name for name, _ in payload.configs][:2] == ["configs/config-000.cfg", "configs/config-001.cfg"]
    assert payload.command[-1] == "dd-tgz:" + BASE + "/images/bookworm.tgz"
    assert payload.command[:3] == ("curtin", "--install-deps", "install")  # as pack_install writes it
    assert payload.sources == (payload.command[-1],)


def test_payload_is_reused_until_a_template_changes(api, tmp_path):
    node = api.nodes["def456"]
    first = api.documents.curtin_user_data(node, "deploying", BASE)
    assert api.documents.curtin_user_data(node, "deploying", BASE) is first
    shipped = api.documents.loader.locations[-1]
    mine = str(tmp_path / "mine")
    os.makedirs(mine)
    api.documents.loader.locations.insert(0, mine)
    with open(os.path.join(mine, "curtin_userdata"), "w") as handle:
        handle.write("#cloud-config\nlate_commands: {mine: [echo, '{{node.hostname}}']}\n")
    changed = decode(api.documents.curtin_user_data(node, "deploying", BASE))
    assert yaml.safe_load(changed.configs[-1][1])["late_commands"] == {"mine": ["echo", "node2"]}
    assert shipped.endswith(os.path.join("config", "preseeds"))


def test_a_broken_template_is_a_500_naming_it_without_secrets(api, tmp_path):
    mine = str(tmp_path / "mine")
    os.makedirs(mine)
    api.documents.loader.locations.insert(0, mine)
    token = api.credentials.for_node("def456")
    with open(os.path.join(mine, "curtin_userdata"), "w") as handle:
        handle.write("{{curtin_preseed + undefined}}")
    url = BASE + "/MAAS/metadata/curtin/latest/user-data"
    c = Credentials(token.consumer_key, token.token_key, token.token_secret)
    answer = api.handle(Request("GET", "/MAAS/metadata/curtin/latest/user-data", {},
                                {"Authorization": Signer(c).sign(url)[0]}, url, BASE))
    assert answer.status == 500
    assert b"Cannot build curtin user-data for def456" in answer.body
    assert b"curtin_userdata failed: name 'undefined' is not defined" in answer.body
    assert token.token_secret.encode() not in answer.body


def test_only_unbuilt_documents_are_slow(api):
    c = api.credentials.for_node("def456")
    url = BASE + "/MAAS/metadata/curtin/latest/user-data"
    header = Signer(Credentials(c.consumer_key, c.token_key, c.token_secret)).sign(url)[0]
    user_data = Request("GET", "/MAAS/metadata/curtin/latest/user-data", {}, {"Authorization": header}, url, BASE)
    preseed = Request("GET", "/MAAS/metadata/latest/by-id/def456/", {"op": "get_preseed"}, {}, url, BASE)
    assert api.is_slow(user_data) and api.is_slow(preseed)
    api.documents.prepare([(api.nodes["def456"], "deploying")], BASE)
    assert not api.is_slow(user_data) and not api.is_slow(preseed)
    meta = Request("GET", "/MAAS/metadata/curtin/latest/meta-data/instance-id", {}, {}, url, BASE)
    assert not api.is_slow(meta)
