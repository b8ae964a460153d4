"""The `curtin net-meta` built-in: arguments, modes and the three output files."""

from __future__ import annotations

import logging
import os

import pytest
import yaml

from cloudinit_maaslike.config.problems import ConfigInvalid
from cloudinit_maaslike.install.builtins import BUILTINS
from cloudinit_maaslike.install.context import StepContext
from cloudinit_maaslike.install.netmeta import net_meta
from cloudinit_maaslike.install.prepare import validated_config
from cloudinit_maaslike.install.workdir import create_workdir
from cloudinit_maaslike.net.errors import NetworkError
from cloudinit_maaslike.runner import CommandFailed
from tests.netfixtures import fixture, golden

from .test_net_discover import fake_nic

LOG = logging.getLogger("test.netmeta")


def make_ctx(tmp_path, cfg=None) -> StepContext:
    config = validated_config([cfg or {}])
    work = create_workdir(config.raw, base=str(tmp_path / "work"), target=str(tmp_path / "target"))
    return StepContext(config, work, "network", "cmd-install/stage-network/builtin", dict(os.environ), LOG,
                       lambda text: text)


def outputs(ctx: StepContext) -> dict:
    found = {}
    for name in ("network_config", "network_state", "interfaces"):
        with open(ctx.work.state_file(name)) as handle:
            found[name] = handle.read()
    return found


@pytest.fixture
def sysfs(tmp_path):
    root = tmp_path / "sys" / "class" / "net"
    fake_nic(root, "eth0", mac="52:54:00:00:00:01")
    fake_nic(root, "eth1", mac="52:54:00:00:00:02", operstate="down")
    return str(root)


def test_it_is_the_net_meta_builtin():
    assert BUILTINS["net-meta"].__name__ == "_net_meta"


def test_a_network_key_forces_custom_and_writes_all_three_files(tmp_path):
    ctx = make_ctx(tmp_path, {"network": fixture("maas-v1.yaml")})
    net_meta(ctx, ["auto"])
    found = outputs(ctx)
    assert yaml.safe_load(found["network_config"]) == {"network": fixture("maas-v1.yaml")}
    assert found["interfaces"] == golden("maas-v1.interfaces")
    assert list(yaml.safe_load(found["network_state"])["interfaces"])[:2] == ["eth0", "eth1"]
    assert os.listdir(ctx.work.target) == []  # the target is curthooks' business


def test_v2_passes_through_and_leaves_no_eni(tmp_path):
    ctx = make_ctx(tmp_path, {"network": fixture("maas-v2.yaml")})
    net_meta(ctx, ["dhcp"])
    found = outputs(ctx)
    assert yaml.safe_load(found["network_config"]) == {"network": fixture("maas-v2.yaml")}
    assert found["interfaces"] == ""
    assert yaml.safe_load(found["network_state"])["version"] == 2


def test_dhcp_from_sysfs(tmp_path, sysfs):
    ctx = make_ctx(tmp_path)
    net_meta(ctx, ["auto"], sysfs=sysfs)
    found = outputs(ctx)
    assert yaml.safe_load(found["network_config"])["network"] == {"version": 1, "config": [
        {"type": "physical", "name": "eth0", "mac_address": "52:54:00:00:00:01", "subnets": [{"type": "dhcp4"}]}]}
    assert "auto eth0\niface eth0 inet dhcp\n" in found["interfaces"]


def test_devices_and_output_options(tmp_path, sysfs):
    ctx = make_ctx(tmp_path)
    out = tmp_path / "eni"
    net_meta(ctx, ["-D", "eth1", "--devices", "eth0", "-o", str(out), "dhcp"], sysfs=sysfs)
    assert [e["name"] for e in yaml.safe_load(outputs(ctx)["network_config"])["network"]["config"]] == \
        ["eth0", "eth1"]
    assert "iface eth1 inet dhcp" in out.read_text() and outputs(ctx)["interfaces"] == ""


def test_disabled_writes_nothing_even_with_a_network_key(tmp_path):
    ctx = make_ctx(tmp_path, {"network": fixture("maas-v1.yaml")})
    net_meta(ctx, ["disabled"])
    assert outputs(ctx) == {"network_config": "", "network_state": "", "interfaces": ""}


def test_network_config_disabled_is_written_for_curthooks(tmp_path):
    ctx = make_ctx(tmp_path, {"network": {"config": "disabled"}})
    net_meta(ctx, ["auto"])
    found = outputs(ctx)
    assert yaml.safe_load(found["network_config"]) == {"network": {"config": "disabled"}}
    assert found["interfaces"] == ""


def test_copy_mode_keeps_the_file_and_writes_v1(tmp_path):
    ctx = make_ctx(tmp_path)
    eni = golden("v1-extras.interfaces")
    os.makedirs(os.path.join(ctx.work.target, "etc/network"))
    with open(os.path.join(ctx.work.target, "etc/network/interfaces"), "w") as handle:
        handle.write(eni)
    net_meta(ctx, ["auto"])
    found = outputs(ctx)
    assert found["interfaces"] == eni
    network = yaml.safe_load(found["network_config"])["network"]
    assert network["version"] == 1 and "br1" in [e.get("name") for e in network["config"]]


def test_a_broken_copied_file_is_reported_before_anything_is_written(tmp_path):
    ctx = make_ctx(tmp_path)
    os.makedirs(os.path.join(ctx.work.target, "etc/network"))
    with open(os.path.join(ctx.work.target, "etc/network/interfaces"), "w") as handle:
        handle.write("auto eth0\niface eth0 inet static\n    gateway 10.0.0.1\n")
    with pytest.raises(ConfigInvalid, match=r"^net-meta copy config: 1 problem: network.config\[0\] "
                                            r"\(name: eth0\).subnets\[0\].address: required"):
        net_meta(ctx, ["copy"])
    assert outputs(ctx)["network_config"] == ""


def test_running_twice_gives_the_same_files(tmp_path):
    ctx = make_ctx(tmp_path, {"network": fixture("v1-extras.yaml")})
    net_meta(ctx, ["custom"])
    first = outputs(ctx)
    net_meta(ctx, ["custom"])
    assert outputs(ctx) == first


@pytest.mark.parametrize(("args", "message"), [
    ([], "the following arguments are required: mode"),
    (["static"], "invalid choice: 'static'"),
    (["--bogus", "dhcp"], "unrecognized arguments: --bogus"),
])
def test_bad_arguments_are_one_line_errors_with_the_usage(tmp_path, args, message):
    with pytest.raises(NetworkError, match=message) as caught:
        net_meta(make_ctx(tmp_path), args)
    assert "usage: curtin net-meta [-D DEVICE]… {auto,dhcp,copy,custom,disabled}" in str(caught.value)


def test_missing_devices_fail_before_writing(tmp_path, sysfs):
    ctx = make_ctx(tmp_path)
    with pytest.raises(NetworkError, match="--devices eth9: not a physical Ethernet interface"):
        net_meta(ctx, ["-D", "eth9", "dhcp"], sysfs=sysfs)
    assert outputs(ctx)["network_config"] == ""


def write_hook(ctx: StepContext, body: str) -> str:
    path = os.path.join(ctx.work.target, "curtin", "network-config")
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as handle:
        handle.write("#!/bin/sh\n" + body)
    os.chmod(path, 0o755)
    return path


@pytest.mark.allow_subprocess
def test_an_images_network_config_hook_runs_instead(tmp_path):
    ctx = make_ctx(tmp_path, {"network": fixture("maas-v1.yaml")})
    marker = tmp_path / "ran"
    write_hook(ctx, f'echo "$PWD" > {marker}\n')
    net_meta(ctx, ["disabled"])
    assert marker.read_text().strip() == ctx.work.scratch
    assert outputs(ctx)["network_config"] == ""


@pytest.mark.allow_subprocess
def test_a_failing_hook_fails_the_step(tmp_path):
    ctx = make_ctx(tmp_path)
    path = write_hook(ctx, "echo no network for you; exit 4\n")
    with pytest.raises(CommandFailed, match=f"command network-config failed \\(exit status 4\\): {path}"):
        net_meta(ctx, ["auto"])
