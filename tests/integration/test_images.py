"""The cached Debian images: what each holds, that its roots are sound, that the cache hits.

Builds happen on first use (minutes, root only) and are cached by content
under build/images, so later runs only check.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
import time

import pytest
import requests

from tests.harness import images, rootfs
from tests.integration.servers import ServeProcess

pytestmark = [pytest.mark.images, pytest.mark.root]


@pytest.fixture(scope="module", autouse=True)
def _buildable() -> None:
    why = images.can_build()
    if why:
        pytest.skip(why)


def tar_names(archive: str) -> set:
    flag = "-I zstd" if archive.endswith(".zst") else "-z"
    done = subprocess.run(f"tar {flag} -tf '{archive}'", shell=True, capture_output=True, text=True,
                          check=True)
    return {name[2:] if name.startswith("./") else name for name in done.stdout.splitlines()}


def test_minbase_tarballs_hold_the_same_root():
    minbase = images.ensure("minbase")
    zst = tar_names(minbase.file("root.tar.zst"))
    assert zst == tar_names(minbase.file("root.tar.gz"))
    for needed in ("usr/bin/dpkg", "usr/bin/apt-get", "etc/os-release", "var/lib/dpkg/status"):
        assert needed in zst
    assert not any(n.startswith("var/cache/apt/archives/") and n.endswith(".deb") for n in zst)
    with tarfile.open(minbase.file("root.tar.gz")) as tar:
        os_release = tar.extractfile("./etc/os-release")
        assert os_release is not None and b'VERSION_CODENAME=bookworm' in os_release.read()


def test_target_has_kernel_grub_and_cloud_init():
    target = images.ensure("target")
    names = tar_names(target.file("root.tar.zst"))
    assert any(n.startswith("boot/vmlinuz-") for n in names)
    assert any(n.startswith("boot/initrd.img-") for n in names)
    for needed in ("usr/lib/grub/i386-pc/", "usr/lib/grub/x86_64-efi/", "usr/sbin/grub-install",
                   "usr/sbin/update-initramfs", "usr/bin/cloud-init", "usr/lib/systemd/systemd",
                   "etc/default/grub.d/50-maaslike-console.cfg"):
        assert needed in names or needed.rstrip("/") in names, needed
    # Per-machine identity is made at first boot, never baked in.
    assert not any(n.startswith("etc/ssh/ssh_host_") for n in names)
    assert os.path.samefile(target.file("root-tgz"), target.file("root.tar.gz"))


def test_target_root_is_fully_configured(tmp_path):
    """dpkg --audit clean in a fresh unpack of the served tarball (machine.md: cffi-backend)."""
    target = images.ensure("target")
    root = str(tmp_path / "root")
    with open(tmp_path / "unpack.log", "w") as log:
        rootfs.unpack(target.file("root-tgz"), root, "test-target", log)
    rootfs.audit(root, "test-target")
    assert os.path.getsize(os.path.join(root, "etc/machine-id")) == 0
    packages = dict(p.split("=", 1) for p in rootfs.installed_packages(root))
    for needed in ("cloud-init", "python3-cffi-backend", "python3-cryptography", "grub-pc",
                   "grub-efi-amd64-bin", "linux-image-amd64", "openssh-server"):
        assert needed in packages
    imported = subprocess.run(["chroot", root, "python3", "-c", "import cloudinit.sources"],
                              capture_output=True, text=True)
    assert imported.returncode == 0, imported.stderr


def test_ephemeral_has_kernel_initrd_and_a_squashfs_with_the_project():
    ephemeral = images.ensure("ephemeral")
    for name in ("squashfs", "boot-kernel", "boot-initrd"):
        assert os.path.getsize(ephemeral.file(name)) > 1_000_000, name
    listing = subprocess.run(["unsquashfs", "-l", "-d", "", ephemeral.file("squashfs")],
                             capture_output=True, text=True, check=True).stdout.split()
    for needed in ("/usr/lib/python3/dist-packages/DataSourceMAASLike.py",
                   "/usr/lib/python3/dist-packages/cloudinit_maaslike/__init__.py",
                   "/etc/cloud/cloud.cfg.d/90_maaslike.cfg",
                   "/etc/initramfs-tools/scripts/local-top/maaslike-rooturl",
                   "/usr/bin/cloud-init", "/usr/sbin/sfdisk", "/usr/sbin/mkfs.vfat"):
        assert needed in listing, needed
    assert ephemeral.manifest["deb"].startswith("python3-cloudinit-maaslike_")


def test_a_second_build_is_a_cache_hit():
    first = images.ensure("ephemeral")
    started = time.monotonic()
    again = images.ensure("ephemeral")
    assert again == first
    assert time.monotonic() - started < 30  # the .deb is rebuilt at most; no image is


def test_initramfs_scripts_parse():
    scripts = []
    for folder, _, files in os.walk(images.INITRAMFS_DIR):
        scripts += [os.path.join(folder, f) for f in files if not folder.endswith("conf.d")]
    assert len(scripts) == 3
    for script in scripts:
        done = subprocess.run(["sh", "-n", script], capture_output=True, text=True)
        assert done.returncode == 0, f"{script}: {done.stderr}"
        assert os.access(script, os.X_OK), script


def test_target_root_tarball_is_served_by_maaslike_serve(tmp_path):
    """What an install's source URL fetches: ``/images/root-tgz`` from ``serve --images``."""
    target = images.ensure("target")
    nodes = tmp_path / "nodes.yaml"
    nodes.write_text("nodes:\n  - {system_id: t1, hostname: t1}\n")
    server = ServeProcess(str(nodes), str(tmp_path / "state"), "--images", target.path)
    try:
        url = f"{server.url}/images/root-tgz"
        head = requests.head(url, timeout=10)
        assert head.status_code == 200
        assert int(head.headers["Content-Length"]) == os.path.getsize(target.file("root-tgz"))
        first = requests.get(url, headers={"Range": "bytes=0-1"}, timeout=10)
        assert first.status_code == 206 and first.content == b"\x1f\x8b"  # gzip
    finally:
        server.stop()
