"""The bootloader step as curtin runs it: carried-over kernel words, grub defaults, debconf, command order."""

from __future__ import annotations

import logging
import os

import pytest

from cloudinit_maaslike import runner
from cloudinit_maaslike.config.problems import Problems
from cloudinit_maaslike.curthooks import bootloader, system
from cloudinit_maaslike.curthooks.context import HookContext
from cloudinit_maaslike.runner import Finished
from tests.fakerunner import FakeRunner

MAAS_ARM64 = ("nomodeset root=squash:http://10.0.0.1:5248/images/x ip=::::node1:BOOTIF ip6=off "
              "cc:{'datasource_list': ['MAAS']}end_cc cloud-config-url=http://10.0.0.1:5248/MAAS/x ro "
              "overlayroot=tmpfs overlayroot_cfgdisk=disabled log_host=10.0.0.1 log_port=5247 "
              "console=ttyAMA0 --- quiet BOOTIF=01-52-54-00-12-34-56 initrd=http://x/initrd BOOT_IMAGE=/k "
              "hugepages=16\n")


@pytest.mark.parametrize("cmdline,expected", [
    pytest.param(MAAS_ARM64, ["console=ttyAMA0", "quiet", "hugepages=16"], id="MAAS arm64: console kept"),
    pytest.param("root=/dev/sda1 console=tty0 console=ttyS0,115200n8 ro\n",
                 ["console=tty0", "console=ttyS0,115200n8"], id="no separator: consoles only"),
    pytest.param("ro console=ttyS0 -- legacy=1 console=ttyS0", ["legacy=1", "console=ttyS0"],
                 id="legacy --: a console after it is kept once, after"),
    pytest.param("a --- b -- c", ["b", "--", "c"], id="--- wins over --"),
    pytest.param("a --- b --- c", ["b", "c"], id="every section after the first"),
    pytest.param("BOOT_IMAGE=/vmlinuz root=x", [], id="nothing to carry"),
    pytest.param("x ---", [], id="a separator that ends the line is not one"),
    pytest.param("", [], id="empty"),
])
def test_carryover_follows_curtins_rule(cmdline, expected):
    assert bootloader.carryover_params(cmdline) == expected


class Target:
    def __init__(self, tmp_path, cmdline=MAAS_ARM64, uefi=False, installed=("grub-pc",)):
        self.root = tmp_path / "target"
        self.host = tmp_path / "host"
        (self.host / "proc").mkdir(parents=True)
        (self.host / "proc/cmdline").write_text(cmdline)
        if uefi:
            (self.host / "sys/firmware/efi").mkdir(parents=True)
        for d in ("usr/sbin", "usr/bin", "etc/default/grub.d", "var/lib/dpkg", "boot/efi"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        (self.root / "usr/sbin/grub-install").touch()
        (self.root / "usr/bin/debconf-set-selections").touch()
        (self.root / "etc/os-release").write_text("ID=debian\nVERSION_ID=\"12\"\n")
        (self.root / "etc/default/grub").write_text(
            'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX=""\n')
        (self.root / "etc/default/grub.d/50-cloudimg-settings.cfg").write_text("GRUB_TIMEOUT=0\n")
        (self.root / "var/lib/dpkg/status").write_text("".join(
            f"Package: {p}\nStatus: install ok installed\nVersion: 2.06\n\n" for p in installed))
        self.calls = []

    def in_target(self, argv, stdin):
        self.calls.append((tuple(argv), stdin))
        return Finished(0, 0.0, (), "")

    def context(self, cfg):
        return HookContext(cfg=cfg, target=str(self.root), state={}, log=logging.getLogger("test"),
                           in_target=self.in_target, host_root=str(self.host))


def test_bios_install_writes_curtins_defaults_and_runs_its_commands_in_order(tmp_path):
    target = Target(tmp_path)
    with runner.replaced(FakeRunner()):
        bootloader.install_bootloader(target.context({"boot": {"install_devices": ["/dev/vda"]}}))
    root = target.root
    assert (root / "etc/default/grub").read_text() == (
        'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="console=ttyAMA0 quiet hugepages=16"\nGRUB_CMDLINE_LINUX=""\n')
    assert (root / "etc/default/grub.d/50-curtin-settings.cfg").read_text() == (
        "# Curtin disable grub os prober that might find other OS installs.\n"
        'GRUB_DISABLE_OS_PROBER="true"\n'
        "# Curtin configured GRUB_TERMINAL value\n"
        'GRUB_TERMINAL="console"')
    assert not (root / "etc/default/grub.d/50-cloudimg-settings.cfg").exists()
    assert (root / "etc/default/grub.d/50-cloudimg-settings.cfg.disabled").exists()
    assert target.calls == [
        (("debconf-set-selections",), "grub-pc grub-pc/install_devices multiselect /dev/vda\n"),
        (("dpkg-reconfigure", "grub-pc"), None),
        (("update-grub",), None),
        (("grub-install", "/dev/vda"), None)]


def test_a_rerun_leaves_the_same_files(tmp_path):
    target = Target(tmp_path)
    cfg = {"boot": {"install_devices": ["/dev/vda"]}}
    with runner.replaced(FakeRunner()):
        bootloader.install_bootloader(target.context(cfg))
        first = {p: (target.root / p).read_text() for p in ("etc/default/grub",
                                                             "etc/default/grub.d/50-curtin-settings.cfg")}
        bootloader.install_bootloader(target.context(cfg))
    assert {p: (target.root / p).read_text() for p in first} == first


def test_grub_defaults_options(tmp_path):
    target = Target(tmp_path)
    cfg = {"grub": {"install_devices": ["/dev/vda"], "replace_linux_default": False, "probe_additional_os": True,
                    "terminal": "unmodified"}}
    with runner.replaced(FakeRunner()):
        bootloader.install_bootloader(target.context(cfg))
    assert 'GRUB_CMDLINE_LINUX_DEFAULT="quiet"' in (target.root / "etc/default/grub").read_text()
    assert not (target.root / "etc/default/grub.d/50-curtin-settings.cfg").exists()


def test_a_missing_default_line_is_appended(tmp_path):
    target = Target(tmp_path, cmdline="ro console=ttyS0")
    (target.root / "etc/default/grub").write_text("GRUB_DEFAULT=0\n")
    with runner.replaced(FakeRunner()):
        bootloader.write_defaults(target.context({}), bootloader.BootSettings())
    expected = 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="console=ttyS0"\n'
    assert (target.root / "etc/default/grub").read_text() == expected


@pytest.mark.parametrize("devices", [None, []])
def test_install_devices_null_or_empty_disables_grub_install(tmp_path, devices):
    target = Target(tmp_path)
    with runner.replaced(FakeRunner()):
        done = bootloader.install_bootloader(target.context({"boot": {"install_devices": devices}}))
    assert target.calls == [] and "/etc/default/grub" in done


def test_legacy_grub_install_devices_wins(tmp_path):
    target = Target(tmp_path)
    with runner.replaced(FakeRunner()):
        bootloader.install_bootloader(target.context({"grub": {"install_devices": ["/dev/vdb"]},
                                                      "grub_install_devices": ["/dev/vdc"]}))
    assert (("grub-install", "/dev/vdc"), None) in target.calls


def test_uefi_install_names_the_esp_and_skips_a_grub_package_not_installed(tmp_path):
    target = Target(tmp_path, uefi=True, installed=("grub-pc",))
    with runner.replaced(FakeRunner({"findmnt": "/dev/vda1\n"})):
        bootloader.install_bootloader(target.context({"boot": {"update_nvram": "false"}}))
    machine = os.uname().machine
    efi_target = {"x86_64": "x86_64-efi", "aarch64": "arm64-efi"}.get(machine, "x86_64-efi")
    assert target.calls == [
        (("debconf-set-selections",), "grub-pc grub-efi/install_devices multiselect /dev/vda1\n"),
        (("update-grub",), None),
        (("grub-install", f"--target={efi_target}", "--efi-directory=/boot/efi", "--bootloader-id=debian",
          "--recheck", "--no-nvram"), None)]


def test_devices_are_named_by_id_where_a_link_exists(tmp_path):
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    disk = tmp_path / "vda"
    disk.touch()
    (by_id / "virtio-serial1").symlink_to(disk)
    assert bootloader.by_id(str(disk), str(by_id)) == str(by_id / "virtio-serial1")
    assert bootloader.by_id(str(tmp_path / "vdb"), str(by_id)) == str(tmp_path / "vdb")


@pytest.mark.parametrize("cfg,path", [
    ({"boot": {"bootloaders": ["extlinux"]}}, "boot.bootloaders"),
    ({"boot": {}, "grub": {"install_devices": ["/dev/vda"]}}, "grub"),
    ({"grub": {"terminal": 3}}, "grub.terminal"),
])
def test_bootloader_settings_that_cannot_be_honoured_are_refused(cfg, path):
    problems = Problems()
    bootloader.parse(cfg, problems)
    assert [p.path for p in problems.errors] == [path]


def test_kernel_img_conf_is_curtins_on_debian_and_absent_on_newer_releases(tmp_path):
    target = Target(tmp_path)
    ctx = target.context({})
    assert system.write_kernel_img_conf(ctx) == ["/etc/kernel-img.conf"]
    text = (target.root / "etc/kernel-img.conf").read_text()
    inboot = "no" if os.uname().machine in ("x86_64", "i686") else "yes"
    assert text == ("# Kernel image management overrides\n# See kernel-img.conf(5) for details\n"
                    f"do_symlinks = yes\ndo_bootloader = no\ndo_initrd = yes\nlink_in_boot = {inboot}\n")
    newer = Target(tmp_path / "newer")
    (newer.root / "etc/os-release").write_text('ID=ubuntu\nVERSION_ID="24.04"\n')
    assert system.write_kernel_img_conf(newer.context({})) == []


@pytest.mark.parametrize("cfg,moved", [({}, True), ({"disable_overlayroot": False}, False)])
def test_overlayroot_config_is_moved_aside_unless_told_not_to(tmp_path, cfg, moved):
    target = Target(tmp_path)
    (target.root / "etc/overlayroot.local.conf").write_text("overlayroot=tmpfs\n")
    system.disable_overlayroot(target.context(cfg))
    assert (target.root / "etc/overlayroot.local.conf.old").exists() is moved
    assert (target.root / "etc/overlayroot.local.conf").exists() is not moved


@pytest.mark.parametrize("cfg,link,restored", [
    ({}, "/run/network/interfaces", True),
    ({}, "../../run/network/interfaces", True),
    ({"restore_dist_interfaces": False}, "/run/network/interfaces", False),
    ({}, "interfaces.d/main", False),
])
def test_the_images_own_interfaces_file_is_restored_as_curtin_does(tmp_path, cfg, link, restored):
    target = Target(tmp_path)
    network = target.root / "etc/network"
    network.mkdir(parents=True)
    (network / "interfaces.dist").write_text("source /etc/network/interfaces.d/*\n")
    (network / "interfaces").symlink_to(link)
    done = system.restore_dist_interfaces(target.context(cfg))
    assert bool(done) is restored
    if restored:
        assert (network / "interfaces").read_text() == "source /etc/network/interfaces.d/*\n"
        assert os.readlink(network / "interfaces.old") == link
    else:
        assert os.readlink(network / "interfaces") == link


def test_no_kernel_img_conf_without_a_numeric_release(tmp_path):
    target = Target(tmp_path)
    (target.root / "etc/os-release").write_text("ID=debian\nVERSION_CODENAME=trixie\n")  # testing: no VERSION_ID
    assert system.write_kernel_img_conf(target.context({})) == []
    assert not (target.root / "etc/kernel-img.conf").exists()
