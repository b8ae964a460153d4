"""The network stage through `maaslike install`: the three output files, and the seed's old flow."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

from cloudinit_maaslike.net.discover import discover_nics
from tests.netfixtures import fixture, golden

OUTPUTS = ("OUTPUT_NETWORK_CONFIG", "OUTPUT_NETWORK_STATE", "OUTPUT_INTERFACES")
APPLETS = ("sh", "cat", "ls", "test", "true", "echo", "mkdir", "mv", "cp")


def install(maaslike_cmd, tmp_path, cfg: dict, target=None) -> subprocess.CompletedProcess:
    """`maaslike install` with partitioning, extract and curthooks off; late copies the outputs out."""
    out = tmp_path / "out"
    base = {
        "install": {"log_file": str(tmp_path / "install.log"), "error_tarfile": None, "post_files": []},
        "partitioning_commands": {"builtin": None},
        "extract_commands": {"builtin": None},
        "curthooks_commands": {"builtin": None},
        "late_commands": {"00_outputs": f"mkdir -p {out} && "
                          + " && ".join(f'cp "${v}" {out}/{v}' for v in OUTPUTS)},
    }
    for key, value in cfg.items():
        base[key] = {**base[key], **value} if isinstance(base.get(key), dict) else value
    path = tmp_path / "install.yaml"
    path.write_text(yaml.safe_dump(base, sort_keys=False))  # keep bond options in their order
    return subprocess.run([*maaslike_cmd, "install", "-c", str(path), "-t", str(target or tmp_path / "target")],
                          capture_output=True, text=True, timeout=120)


def read_outputs(tmp_path) -> dict:
    return {name: (tmp_path / "out" / name).read_text() for name in OUTPUTS}


def test_maas_v1_custom_writes_the_three_files(tmp_path, maaslike_cmd):
    done = install(maaslike_cmd, tmp_path, {"network": fixture("maas-v1.yaml"),
                                            "network_commands": {"builtin": ["curtin", "net-meta", "custom"]}})
    assert done.returncode == 0, done.stdout + done.stderr
    found = read_outputs(tmp_path)
    assert yaml.safe_load(found["OUTPUT_NETWORK_CONFIG"]) == {"network": fixture("maas-v1.yaml")}
    assert found["OUTPUT_INTERFACES"] == golden("maas-v1.interfaces")
    state = yaml.safe_load(found["OUTPUT_NETWORK_STATE"])
    assert state["interfaces"]["eth2"]["bond_master"] == "bond0"
    assert "network: net-meta custom: version 1, 7 interface(s)" in (tmp_path / "install.log").read_text()


def test_maas_v2_passes_through(tmp_path, maaslike_cmd):
    done = install(maaslike_cmd, tmp_path, {"network": fixture("maas-v2.yaml")})
    assert done.returncode == 0, done.stdout + done.stderr
    found = read_outputs(tmp_path)
    assert yaml.safe_load(found["OUTPUT_NETWORK_CONFIG"]) == {"network": fixture("maas-v2.yaml")}
    assert found["OUTPUT_INTERFACES"] == ""


def test_the_default_auto_mode_makes_v1_dhcp_from_this_machine(tmp_path, maaslike_cmd):
    up = [nic for nic in discover_nics() if nic.is_up] if os.path.isdir("/sys/class/net") else []
    done = install(maaslike_cmd, tmp_path, {})
    assert done.returncode == 0, done.stdout + done.stderr
    found = read_outputs(tmp_path)
    network = yaml.safe_load(found["OUTPUT_NETWORK_CONFIG"])["network"]
    assert network["version"] == 1
    assert [(e["name"], e.get("mac_address")) for e in network["config"]] == [(n.name, n.mac) for n in up]
    for nic in up:
        assert f"auto {nic.name}\niface {nic.name} inet dhcp\n" in found["OUTPUT_INTERFACES"]


def test_disabled_leaves_the_files_empty(tmp_path, maaslike_cmd):
    done = install(maaslike_cmd, tmp_path, {"network": fixture("maas-v1.yaml"),
                                            "network_commands": {"builtin": ["curtin", "net-meta", "disabled"]}})
    assert done.returncode == 0, done.stdout + done.stderr
    assert read_outputs(tmp_path) == dict.fromkeys(OUTPUTS, "")


def test_a_bad_network_config_stops_the_install_before_any_stage(tmp_path, maaslike_cmd):
    marker = tmp_path / "early-ran"
    bad = {"version": 1, "config": [{"type": "bond", "name": "bond0", "bond_interfaces": ["eth9"]}]}
    done = install(maaslike_cmd, tmp_path, {"network": bad, "early_commands": {"x": f"touch {marker}"}})
    assert done.returncode == 2
    assert "network.config[0] (name: bond0).bond_interfaces[0]: refers to 'eth9', which no entry has as name" \
        in done.stderr
    assert not marker.exists()


def test_a_failing_net_meta_fails_the_network_stage(tmp_path, maaslike_cmd):
    done = install(maaslike_cmd, tmp_path, {"network_commands": {"builtin": ["curtin", "net-meta", "copy"]}})
    assert done.returncode != 0
    assert "net-meta copy: the target has no /etc/network/interfaces" in done.stderr
    assert not (tmp_path / "out").exists()  # late never ran


def test_curtin_net_meta_as_a_shell_command_inside_a_stage(tmp_path, maaslike_cmd):
    done = install(maaslike_cmd, tmp_path, {"network": fixture("v1-extras.yaml"),
                                            "network_commands": {"builtin": "curtin net-meta auto"}})
    assert done.returncode == 0, done.stdout + done.stderr
    assert read_outputs(tmp_path)["OUTPUT_INTERFACES"] == golden("v1-extras.interfaces")


# --- the seed's old flow: files to /tmp in the network stage, moved in by late_commands ------------

def make_root(path) -> str:
    """A busybox root, enough for `curtin in-target -- sh -c …`."""
    for sub in ("bin", "etc", "tmp"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    shutil.copy(shutil.which("busybox"), os.path.join(path, "bin", "busybox"))
    for applet in APPLETS:
        os.symlink("busybox", os.path.join(path, "bin", applet))
    return str(path)


@pytest.mark.parametrize("flow", ["commands", "builtin"])
@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chroot, bind mounts)")
@pytest.mark.skipif(shutil.which("busybox") is None, reason="needs busybox-static")
def test_old_flow_files_written_to_tmp_end_in_the_target(tmp_path, maaslike_cmd, flow):
    image = make_root(tmp_path / "image")
    target = tmp_path / "target"
    stash = tmp_path / "tmp-net"  # the seed used /tmp; a private directory under it here
    eni, rules = golden("maas-v1.interfaces"), golden("maas-v1.rules")
    (tmp_path / "eni.src").write_text(eni)
    (tmp_path / "rules.src").write_text(rules)
    if flow == "commands":
        network = {"builtin": None,
                   "10_dir": f"mkdir -p {stash}",
                   "20_eni": f"cp {tmp_path}/eni.src {stash}/interfaces",
                   "30_rules": f"cp {tmp_path}/rules.src {stash}/70-persistent-net.rules"}
        extra = {}
    else:  # the built-in renders, the old late commands still move OUTPUT_INTERFACES into place
        network = {"10_dir": f"mkdir -p {stash}",
                   "builtin": ["curtin", "net-meta", "custom"],
                   "zz_eni": f'cp "$OUTPUT_INTERFACES" {stash}/interfaces',
                   "zz_rules": f"cp {tmp_path}/rules.src {stash}/70-persistent-net.rules"}
        extra = {"network": fixture("maas-v1.yaml")}
    done = install(maaslike_cmd, tmp_path, {
        **extra,
        "network_commands": network,
        "extract_commands": {"copy": f"cp -a {image}/. {target}/"},
        "late_commands": {
            "10_stage": f'cp {stash}/interfaces {stash}/70-persistent-net.rules "$TARGET_MOUNT_POINT/tmp/"',
            "20_move": ["curtin", "in-target", "--", "sh", "-c",
                        "mkdir -p /etc/network /etc/udev/rules.d && mv /tmp/interfaces /etc/network/interfaces"
                        " && mv /tmp/70-persistent-net.rules /etc/udev/rules.d/70-persistent-net.rules"],
        },
    }, target=target)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (target / "etc/network/interfaces").read_text() == eni
    assert (target / "etc/udev/rules.d/70-persistent-net.rules").read_text() == rules
    assert not (target / "tmp/interfaces").exists()
    with open("/proc/self/mountinfo") as handle:
        assert not [line for line in handle if str(target) in line]
