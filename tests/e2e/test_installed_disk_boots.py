"""Install a real Debian 12 root onto a disk with `maaslike install`, then boot it.

The disk is a loop device over a sparse file; the network config is MAAS's
v1 shape (static address on the VM's NIC, matched by MAC); the installed
system's cloud-init reads a NoCloud seed the install wrote, and its runcmd
prints what the test checks: the address, the swap, the root device and the
host name, i.e. the network config, fstab and hostname in effect.
"""

from __future__ import annotations

import os
import subprocess

import pytest
import yaml

from tests.harness import qemu

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (loop devices, chroot)"),
]

MiB = 1 << 20
MAC = "52:54:00:12:34:56"  # the harness's default NIC
USER_DATA = """#cloud-config
runcmd:
  - [sh, -c, 'echo "MAASLIKE-CHECK addr=$(ip -4 -o addr show dev eth0 | awk "{print \\$4}")
     swap=$(swapon --noheadings --show=NAME) root=$(findmnt -n -o SOURCE /) host=$(hostname)"
     > /dev/ttyS0']
"""


def install_config(tmp_path, disk: str, source: str) -> dict:
    return {
        "install": {"log_file": str(tmp_path / "install.log"), "error_tarfile": str(tmp_path / "error.tar"),
                    "post_files": []},
        "block-meta": {"devices": [disk]},
        "sources": {"00": source},
        "network": {"version": 1, "config": [
            {"type": "physical", "name": "eth0", "mac_address": MAC, "subnets": [
                {"type": "static", "address": "10.0.2.15/24", "gateway": "10.0.2.2",
                 "dns_nameservers": ["10.0.2.3"]}]},
        ]},
        "swap": {"size": "64M"},
        "initramfs": {"update": "always"},  # exercise update-initramfs in the chroot
        "hostname": "booted-node.maas",
        "cloudconfig": {"datasource": {"content": "datasource_list: [ NoCloud, None ]\n"}},
        "write_files": {
            "seed-meta": {"path": "/var/lib/cloud/seed/nocloud/meta-data",
                          "content": "instance-id: iid-maaslike-boot\nlocal-hostname: booted-node\n"},
            "seed-user": {"path": "/var/lib/cloud/seed/nocloud/user-data", "content": USER_DATA},
        },
    }


def test_installed_debian_disk_boots_with_its_network_fstab_and_hostname(tmp_path, maaslike_cmd):
    why_not = qemu.can_run()
    if why_not:
        pytest.skip(why_not)
    from tests.harness import images

    image = images.ensure("target")
    disk_file = tmp_path / "disk.img"
    with open(disk_file, "wb") as handle:
        handle.truncate(3072 * MiB)
    loop = subprocess.run(["losetup", "--find", "--show", str(disk_file)], check=True,
                          capture_output=True, text=True).stdout.strip()
    try:
        cfg = tmp_path / "install.yaml"
        cfg.write_text(yaml.safe_dump(install_config(tmp_path, loop, f"file://{image.file('root.tar.zst')}")))
        done = subprocess.run([*maaslike_cmd, "install", "-c", str(cfg), "-t", str(tmp_path / "target")],
                              capture_output=True, text=True, timeout=1200)
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr
        assert "applying-networking" in done.stdout
    finally:
        subprocess.run(["partx", "-d", loop], capture_output=True)
        subprocess.run(["losetup", "-d", loop], capture_output=True)
    spec = qemu.VMSpec("installed", str(tmp_path / "vm"), disks=[str(disk_file)], mac=MAC, memory_mib=1024)
    with qemu.VM(spec) as vm:
        vm.wait_for(r"Cloud-init v\. \S+ running 'init-local'", timeout=600, what="the installed system's cloud-init")
        found = vm.wait_for(r"MAASLIKE-CHECK addr=(\S*) swap=(\S*) root=(\S*) host=(\S*)", timeout=600,
                            what="the runcmd report", fail_on=qemu.BOOT_FAILED)
    addr, swap, root, host = found.groups()
    assert addr == "10.0.2.15/24"
    assert swap == "/swap.img"
    assert root.startswith("/dev/vda")
    assert host == "booted-node"
