"""An image whose directories are links leading out of it: every write stays in the target.

GNU tar creates an image's absolute and ``..`` links at the end of extraction;
each later write of the install (curthooks, network, swap, saved config and
log, the chroot's binds, policy-rc.d and resolv.conf, late commands) must
resolve them as the booted system will, inside the target.  The decoys are
real directories on this host at the very paths the links name; they stay
empty, and the target holds what the image meant.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile

import pytest
import yaml

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chroot, bind mounts)"),
    pytest.mark.skipif(shutil.which("busybox") is None, reason="needs busybox-static"),
]

APPLETS = ("sh", "cat", "echo", "true", "test")
DECOYS = ("etc", "root", "boot", "log", "cloud-d")
UP = "../" * 12  # more than enough to climb to / from anywhere on the host


def build_image(tmp_path, decoy):
    """The image tree: its etc, root, boot, var/log and cloud.cfg.d all lead to `decoy`."""
    image = tmp_path / "image"
    inside = image / str(decoy).lstrip("/")
    for sub in ("bin", "var", "usr/sbin", *(f"{inside.relative_to(image)}/{d}" for d in DECOYS)):
        (image / sub).mkdir(parents=True, exist_ok=True)
    shutil.copy(shutil.which("busybox"), image / "bin/busybox")
    for applet in APPLETS:
        (image / "bin" / applet).symlink_to("busybox")
    (inside / "etc/os-release").write_text('ID=debian\nVERSION_CODENAME=bookworm\n')
    (inside / "etc/hosts").write_text("127.0.0.1 localhost\n")
    (inside / "etc/resolv.conf").write_text("nameserver 192.0.2.1\n")
    (inside / "etc/cloud").mkdir()
    (inside / "etc/cloud/cloud.cfg.d").symlink_to(f"{decoy}/cloud-d")       # absolute
    (image / "etc").symlink_to(f"{decoy}/etc")                              # absolute
    (image / "boot").symlink_to(f"{decoy}/boot")                            # absolute
    (image / "root").symlink_to(UP + str(decoy).lstrip("/") + "/root")      # climbs with ..
    (image / "var/log").symlink_to(UP + str(decoy).lstrip("/") + "/log")    # climbs with ..
    tarball = tmp_path / "root.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(image, arcname=".")
    return tarball


def config(tmp_path, tarball):
    return {
        "install": {"log_file": str(tmp_path / "install.log"), "error_tarfile": str(tmp_path / "error.tar"),
                    "post_files": [], "save_install_log": "/var/log/curtin-install.log"},
        "partitioning_commands": {"builtin": None},
        "sources": {"00": f"file://{tarball}"},
        "network": {"version": 1, "config": [{"type": "physical", "name": "eth0",
                                              "mac_address": "52:54:00:12:34:56",
                                              "subnets": [{"type": "dhcp"}]}]},
        "hostname": "node9.maas",
        "kernel": {"install": False},
        "grub": {"install_devices": []},
        "swap": {"filename": "/boot/swap.img", "size": "8M"},
        "apt": {"proxy": "http://proxy.example:3128"},
        "write_files": {"a": {"path": "/etc/maaslike/a", "content": "a\n"},
                        "key": {"path": "/root/.ssh/authorized_keys", "content": "ssh-ed25519 AAAA x\n"}},
        "cloudconfig": {"maas": {"content": "datasource_list: [ MAAS ]\n"}},
        "late_commands": {"10": ["curtin", "in-target", "--", "sh", "-c", "echo inside > /root/from-late"]},
    }


def mounts_under(path) -> list:
    with open("/proc/self/mountinfo") as handle:
        return [line.split()[4] for line in handle if line.split()[4].startswith(str(path))]


def test_links_out_of_the_image_are_resolved_inside_the_target(tmp_path, maaslike_cmd):
    decoy = tmp_path / "decoy"
    for name in DECOYS:
        (decoy / name).mkdir(parents=True)
    tarball = build_image(tmp_path, decoy)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(config(tmp_path, tarball)))
    target = tmp_path / "target"
    done = subprocess.run([*maaslike_cmd, "install", "-c", str(cfg), "-t", str(target)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr

    assert {name: os.listdir(decoy / name) for name in DECOYS} == {name: [] for name in DECOYS}
    meant = target / str(decoy).lstrip("/")
    assert (meant / "etc/hostname").read_text() == "node9\n"
    assert "127.0.1.1 node9.maas node9" in (meant / "etc/hosts").read_text()
    assert "/boot/swap.img\tnone\tswap\tsw\t0\t0" in (meant / "etc/fstab").read_text()
    assert (meant / "boot/swap.img").stat().st_size == 8 << 20
    assert (meant / "etc/maaslike/a").read_text() == "a\n"
    assert (meant / "root/.ssh/authorized_keys").read_text().startswith("ssh-ed25519")
    assert (meant / "root/curtin-install-cfg.yaml").exists()
    assert (meant / "log/curtin-install.log").stat().st_size > 0
    assert any(name.endswith("cloudconfig-maas.cfg") for name in os.listdir(meant / "cloud-d"))
    assert "eth0" in (meant / "etc/network/interfaces").read_text()
    assert (meant / "etc/apt/apt.conf.d/90curtin-aptproxy").exists()
    assert (meant / "root/from-late").read_text() == "inside\n"
    assert (meant / "etc/resolv.conf").read_text() == "nameserver 192.0.2.1\n"  # the image's, restored
    assert not (target / "usr/sbin/policy-rc.d").exists()
    assert mounts_under(target) == []


def test_a_link_loop_in_the_image_fails_the_install_with_one_line(tmp_path, maaslike_cmd):
    image = tmp_path / "image"
    image.mkdir()
    (image / "etc").symlink_to("/etc")  # in a chroot this names itself
    tarball = tmp_path / "loop.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(image, arcname=".")
    cfg = tmp_path / "cfg.yaml"
    data = config(tmp_path, tarball)
    data.pop("late_commands")
    cfg.write_text(yaml.safe_dump(data))
    target = tmp_path / "target"
    done = subprocess.run([*maaslike_cmd, "install", "-c", str(cfg), "-t", str(target)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 3, done.stdout[-3000:] + done.stderr
    assert "more than 40 symbolic links" in done.stderr.strip().splitlines()[-1]
    assert "Traceback" not in done.stderr
    assert mounts_under(target) == []
