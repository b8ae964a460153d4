"""apply_network: the renderer chosen from what the target has, files written idempotently."""

from __future__ import annotations

import logging
import os
import shutil
import stat

import pytest
import yaml

from cloudinit_maaslike.config.problems import ConfigInvalid
from cloudinit_maaslike.net import apply_network
from cloudinit_maaslike.net.apply import choose_renderer
from cloudinit_maaslike.net.cloudcfg import network_document
from cloudinit_maaslike.net.errors import NetworkApplyError
from cloudinit_maaslike.net.schema import parse_network
from cloudinit_maaslike.net.targetinfo import TargetNetworking, probe_target, read_version_file
from cloudinit_maaslike.runner import Finished
from tests.netfixtures import fixture, golden

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLOUDINIT_TREES = os.path.join(REPO, "build", "cloudinit")
VERSION_PY = "usr/lib/python3/dist-packages/cloudinit/version.py"
LOG = logging.getLogger("test")
OLD_VERSION_PY = '__VERSION__ = "0.7.9"\n\ndef version_string():\n    return __VERSION__\n'
V2_VERSION_PY = '__VERSION__ = "23.1"\nFEATURES = [\n    "NETWORK_CONFIG_V1",\n    "NETWORK_CONFIG_V2",\n]\n'


def real_tree(version: str) -> str:
    root = os.path.join(CLOUDINIT_TREES, version, "root")
    if not os.path.isfile(os.path.join(root, VERSION_PY)):
        pytest.skip(f"cloud-init {version} is not unpacked under build/cloudinit (run: make cloudinit)")
    return root


def put(root, relative: str, text: str = "", mode: int = 0o644) -> str:
    path = os.path.join(str(root), relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(text)
    os.chmod(path, mode)
    return path


def make_target(tmp_path, *, cloudinit=None, netplan=False, name="target") -> str:
    """cloudinit: None (absent), 'old' (no FEATURES), 'v2', or a real version to copy from build/."""
    root = tmp_path / name
    root.mkdir()
    if cloudinit == "old":
        put(root, VERSION_PY, OLD_VERSION_PY)
    elif cloudinit == "v2":
        put(root, VERSION_PY, V2_VERSION_PY)
    elif cloudinit:
        source = real_tree(cloudinit)
        put(root, VERSION_PY)
        shutil.copy(os.path.join(source, VERSION_PY), os.path.join(root, VERSION_PY))
    if cloudinit:
        put(root, "usr/bin/cloud-init", "#!/usr/bin/python3\n", 0o755)
    if netplan:
        put(root, "usr/share/netplan/netplan.script", "#!/usr/bin/python3\n", 0o755)
        os.makedirs(root / "usr/sbin", exist_ok=True)
        os.symlink("../share/netplan/netplan.script", root / "usr/sbin/netplan")
    return str(root)


def config_file(tmp_path, network, name="network_config") -> str:
    path = tmp_path / name
    path.write_text(network_document(network) if network is not None else "")  # as net-meta writes it
    return str(path)


def files_under(root: str) -> dict:
    found = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                with open(path) as handle:
                    found[os.path.relpath(path, root)] = (handle.read(), stat.S_IMODE(os.stat(path).st_mode))
    return found


# --- what the target has -------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["22.4.2", "25.1.4"])
def test_the_real_cloudinit_trees_read_as_v2_capable(version):
    info = probe_target(real_tree(version))
    assert info.has_cloudinit and info.cloudinit_version == version
    assert info.features == ("NETWORK_CONFIG_V1", "NETWORK_CONFIG_V2")
    assert info.features_from == "/" + VERSION_PY and info.cloudinit_supports_v2
    assert not info.has_netplan


def test_a_cloudinit_without_features_has_no_v2(tmp_path):
    info = probe_target(make_target(tmp_path, cloudinit="old"))
    assert info.has_cloudinit and info.cloudinit_version == "0.7.9" and info.features == ()
    assert not info.cloudinit_supports_v2


def test_rhel_style_site_packages_are_found(tmp_path):
    root = tmp_path / "rhel"
    put(root, "usr/lib/python3.9/site-packages/cloudinit/version.py", V2_VERSION_PY)
    info = probe_target(str(root))
    assert info.cloudinit_supports_v2 and info.features_from.endswith("python3.9/site-packages/cloudinit/version.py")


def test_no_cloudinit_no_netplan(tmp_path):
    info = probe_target(make_target(tmp_path))
    assert info == TargetNetworking(False, None, (), "", False)


def test_netplan_is_found_through_its_relative_link(tmp_path):
    assert probe_target(make_target(tmp_path, netplan=True)).has_netplan


def test_links_out_of_the_target_are_not_followed_to_the_host(tmp_path):
    root = tmp_path / "escaping"
    root.mkdir()
    hostish = tmp_path / "host" / "usr"
    put(hostish, "sbin/netplan")
    put(hostish, "lib/python3/dist-packages/cloudinit/version.py", V2_VERSION_PY)
    os.symlink(str(hostish), root / "usr")  # an absolute link, as a broken image might have
    info = probe_target(str(root))
    assert not info.has_netplan and not info.has_cloudinit


def test_a_command_without_a_package_asks_cloud_init_features_in_the_target(tmp_path):
    root = tmp_path / "odd"
    put(root, "usr/bin/cloud-init", "#!/bin/sh\n", 0o755)
    calls = []

    def run(argv, stdin):
        calls.append(list(argv))
        return Finished(0, 0.1, ("NETWORK_CONFIG_V1", "NETWORK_CONFIG_V2"))

    info = probe_target(str(root), run)
    assert calls == [["cloud-init", "features"]]
    assert info.cloudinit_supports_v2 and info.features_from == "cloud-init features"
    captured = probe_target(str(root), lambda argv, stdin: Finished(0, 0.1, (), "NETWORK_CONFIG_V1\n"))
    assert captured.has_cloudinit and not captured.cloudinit_supports_v2
    assert not probe_target(str(root)).cloudinit_supports_v2  # no runner: no guess


def test_a_failing_cloud_init_features_means_no_v2(tmp_path, caplog):
    root = tmp_path / "odd"
    put(root, "usr/bin/cloud-init", "#!/bin/sh\n", 0o755)
    info = probe_target(str(root), lambda argv, stdin: Finished(1, 0.1, ("Traceback",)), LOG)
    assert info.has_cloudinit and not info.cloudinit_supports_v2
    assert "'cloud-init features' failed in the target (exit 1)" in caplog.text


def test_an_unreadable_version_file_means_no_v2(tmp_path, caplog):
    root = tmp_path / "broken"
    put(root, VERSION_PY, "FEATURES = [\n")
    info = probe_target(str(root), log=LOG)
    assert info.has_cloudinit and not info.cloudinit_supports_v2
    assert "cannot read the target's usr/lib/python3/dist-packages/cloudinit/version.py" in caplog.text


def test_version_file_is_read_not_run(tmp_path):
    path = put(tmp_path, "version.py", 'import os\nos.system("touch /tmp/pwned")\n' + V2_VERSION_PY)
    assert read_version_file(path) == ("23.1", ("NETWORK_CONFIG_V1", "NETWORK_CONFIG_V2"))


@pytest.mark.parametrize(("network", "ci", "v2", "netplan", "renderer"), [
    ({"version": 1, "config": []}, True, True, True, "cloud-init"),
    ({"version": 2}, True, True, False, "cloud-init"),
    ({"version": 1, "config": []}, True, False, True, "netplan"),
    ({"version": 1, "config": []}, False, False, True, "netplan"),
    ({"version": 1, "config": []}, True, False, False, "eni"),
    ({"version": 1, "config": []}, False, False, False, "eni"),
    ({"config": "disabled"}, True, True, True, "cloud-init"),
    ({"config": "disabled"}, True, False, True, "disable"),
    ({"config": "disabled"}, False, False, True, "none"),
])
def test_renderer_choice(network, ci, v2, netplan, renderer):
    target = TargetNetworking(ci, None, ("NETWORK_CONFIG_V2",) if v2 else (), "", netplan)
    assert choose_renderer(parse_network(network), target) == renderer


# --- writing ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["22.4.2", "25.1.4"])
def test_a_v2_capable_cloudinit_gets_the_dropin_and_nothing_else(tmp_path, version):
    target = make_target(tmp_path, cloudinit=version, netplan=True)
    before = files_under(target)
    written = apply_network(target, config_file(tmp_path, fixture("maas-v2.yaml")), LOG)
    assert written == ["/etc/cloud/cloud.cfg.d/50-curtin-networking.cfg"]
    after = files_under(target)
    text, mode = after.pop("etc/cloud/cloud.cfg.d/50-curtin-networking.cfg")
    assert yaml.safe_load(text) == {"network": fixture("maas-v2.yaml")} and mode == 0o644
    assert after == before


def test_netplan_without_cloudinit(tmp_path):
    target = make_target(tmp_path, netplan=True)
    written = apply_network(target, config_file(tmp_path, fixture("maas-v1.yaml")), LOG)
    assert written == ["/etc/netplan/50-curtin-networking.yaml"]
    text, mode = files_under(target)["etc/netplan/50-curtin-networking.yaml"]
    assert text == golden("maas-v1.netplan.yaml") and mode == 0o600  # netplan refuses open files


def test_netplan_with_an_old_cloudinit_also_disables_its_networking(tmp_path):
    target = make_target(tmp_path, cloudinit="old", netplan=True)
    written = apply_network(target, config_file(tmp_path, fixture("maas-v1.yaml")), LOG)
    assert written == ["/etc/netplan/50-curtin-networking.yaml",
                       "/etc/cloud/cloud.cfg.d/curtin-disable-cloudinit-networking.cfg"]
    text, _ = files_under(target)["etc/cloud/cloud.cfg.d/curtin-disable-cloudinit-networking.cfg"]
    assert yaml.safe_load(text) == {"network": {"config": "disabled"}}


def test_v2_goes_through_netplan_verbatim(tmp_path):
    target = make_target(tmp_path, netplan=True)
    apply_network(target, config_file(tmp_path, fixture("maas-v2.yaml")), LOG)
    text, _ = files_under(target)["etc/netplan/50-curtin-networking.yaml"]
    assert yaml.safe_load(text) == {"network": fixture("maas-v2.yaml")}


@pytest.mark.parametrize("cloudinit", [None, "old"])
def test_eni_and_udev_rules_otherwise(tmp_path, cloudinit):
    target = make_target(tmp_path, cloudinit=cloudinit)
    written = apply_network(target, config_file(tmp_path, fixture("maas-v1.yaml")), LOG)
    expected = ["/etc/network/interfaces", "/etc/udev/rules.d/70-persistent-net.rules"]
    if cloudinit:
        expected.append("/etc/cloud/cloud.cfg.d/curtin-disable-cloudinit-networking.cfg")
    assert written == expected
    files = files_under(target)
    assert files["etc/network/interfaces"] == (golden("maas-v1.interfaces"), 0o644)
    assert files["etc/udev/rules.d/70-persistent-net.rules"] == (golden("maas-v1.rules"), 0o644)


def test_v2_with_nothing_that_reads_it_is_an_error_naming_the_target(tmp_path):
    target = make_target(tmp_path, cloudinit="old")
    with pytest.raises(NetworkApplyError, match=r"version 2 cannot be written into .*target: it has neither"):
        apply_network(target, config_file(tmp_path, fixture("maas-v2.yaml")), LOG)
    assert not os.path.exists(os.path.join(target, "etc"))  # nothing written


@pytest.mark.parametrize(("cloudinit", "written"), [
    ("25.1.4", ["/etc/cloud/cloud.cfg.d/50-curtin-networking.cfg"]),
    ("old", ["/etc/cloud/cloud.cfg.d/curtin-disable-cloudinit-networking.cfg"]),
    (None, []),
])
def test_config_disabled_only_tells_cloudinit(tmp_path, cloudinit, written):
    target = make_target(tmp_path, cloudinit=cloudinit, netplan=True)
    assert apply_network(target, config_file(tmp_path, {"config": "disabled"}), LOG) == written
    for path in written:
        with open(os.path.join(target, path.lstrip("/"))) as handle:
            assert yaml.safe_load(handle)["network"] == {"config": "disabled"}


def test_applying_twice_is_applying_once(tmp_path):
    target = make_target(tmp_path, cloudinit="old")
    path = config_file(tmp_path, fixture("v1-extras.yaml"))
    first = apply_network(target, path, LOG)
    snapshot = files_under(target)
    assert apply_network(target, path, LOG) == first
    assert files_under(target) == snapshot
    assert not [name for name in snapshot if ".tmp-" in name]


def test_an_empty_config_writes_nothing_or_copies_the_interfaces_file(tmp_path):
    target = make_target(tmp_path, cloudinit="25.1.4")
    empty = config_file(tmp_path, None)
    assert apply_network(target, empty, LOG) == []
    assert apply_network(target, empty, LOG, interfaces_path=str(tmp_path / "absent")) == []
    interfaces = tmp_path / "interfaces"
    interfaces.write_text("auto eth0\niface eth0 inet dhcp\n")
    assert apply_network(target, empty, LOG, interfaces_path=str(interfaces)) == ["/etc/network/interfaces"]
    assert files_under(target)["etc/network/interfaces"][0] == "auto eth0\niface eth0 inet dhcp\n"


def test_network_null_is_no_config(tmp_path):
    path = tmp_path / "null"
    path.write_text("network: null\n")
    assert apply_network(make_target(tmp_path), str(path), LOG) == []


@pytest.mark.parametrize(("content", "message"), [
    (None, r"cannot read the network config .*/missing: No such file"),
    ("network: [unclosed\n", r"the network config .*/bad is not YAML \(line 2\)"),
    ("- a list\n", r"the network config .*/bad has no 'network:' key at the top"),
    ("storage: {}\n", r"has no 'network:' key at the top"),
])
def test_unusable_config_files_are_errors_naming_the_file(tmp_path, content, message):
    path = tmp_path / ("missing" if content is None else "bad")
    if content is not None:
        path.write_text(content)
    with pytest.raises(NetworkApplyError, match=message):
        apply_network(make_target(tmp_path), str(path), LOG)


def test_an_invalid_config_is_reported_with_the_file_and_key_before_writing(tmp_path):
    target = make_target(tmp_path)
    path = config_file(tmp_path, {"version": 1, "config": [{"type": "physical", "name": "eth0",
                                                            "subnets": [{"type": "static"}]}]})
    with pytest.raises(ConfigInvalid) as caught:
        apply_network(target, path, LOG)
    assert str(caught.value).startswith(f"{path}: 1 problem: network.config[0] (name: eth0).subnets[0].address")
    assert os.listdir(target) == []


def test_a_target_directory_linking_out_of_the_target_is_followed_inside_it(tmp_path):
    target = make_target(tmp_path)
    outside = tmp_path / "host-etc-network"
    outside.mkdir()
    os.makedirs(os.path.join(target, "etc"))
    os.symlink(str(outside), os.path.join(target, "etc/network"))  # absolute: the host's, once booted
    apply_network(target, config_file(tmp_path, fixture("maas-v1.yaml")), LOG)
    assert os.listdir(outside) == []
    inside = os.path.join(target, str(outside).lstrip("/"), "interfaces")
    with open(inside) as handle:
        assert "iface" in handle.read()  # where the booted image will read it


def test_a_file_that_cannot_be_written_is_an_error_naming_it_and_leaves_no_temporary(tmp_path):
    target = make_target(tmp_path)
    os.makedirs(os.path.join(target, "etc/network/interfaces"))  # a directory where the file goes
    with pytest.raises(NetworkApplyError, match=r"cannot write /etc/network/interfaces in the target .*: Is a direc"):
        apply_network(target, config_file(tmp_path, fixture("maas-v1.yaml")), LOG)
    assert os.listdir(os.path.join(target, "etc/network")) == ["interfaces"]
