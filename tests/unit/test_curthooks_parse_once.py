"""The curthooks sections are parsed once, at validation; the steps never read the raw config."""

from __future__ import annotations

import base64
import logging
import os
from typing import List

import pytest

from cloudinit_maaslike import runner
from cloudinit_maaslike.config.problems import Problems
from cloudinit_maaslike.curthooks import STEPS, crashdumps, parse_curthooks, swap, system, upgrade, writefiles
from cloudinit_maaslike.curthooks.context import HookContext
from cloudinit_maaslike.runner import Finished
from tests.fakerunner import FakeRunner
from tests.untouchable import Untouchable

CFG = {
    "write_files": {"motd": {"path": "/etc/motd", "content": "hello\n"},
                    "key": {"path": "etc/ssl/key", "encoding": "b64", "permissions": "0600",
                            "content": base64.b64encode(b"secret\n").decode()},
                    "skipped": None},
    "cloudconfig": {"tz": {"content": "timezone: UTC\n"}},
    "swap": {"size": "1M", "filename": "swapfile"},
    "kernel": {"package": "linux-image-rt-amd64", "fallback-package": "linux-image-amd64"},
    "hostname": "node1.maas",
    "initramfs": {"update": "always"},
    "disable_overlayroot": True,
    "restore_dist_interfaces": False,
    "system_upgrade": {"enabled": "yes"},
    "kernel-crash-dumps": {"enabled": False},
}
KDUMP = "/usr/share/kdump-tools/kdump_set_default"
OTHERS = ("configuring-apt", "installing-bootloader")  # their own tests show they read only settings too


def test_the_typed_shapes():
    problems = Problems()
    settings = parse_curthooks(CFG, problems)
    assert problems.errors == []
    assert settings.write_files == (
        writefiles.WriteFile(name="motd", path="/etc/motd", content=b"hello\n"),
        writefiles.WriteFile(name="key", path="etc/ssl/key", content=b"secret\n", permissions=0o600))
    assert [(f.path, f.content) for f in settings.cloudconfig] == [
        ("etc/cloud/cloud.cfg.d/95-cloudconfig-tz.cfg", b"timezone: UTC\n")]
    assert settings.swap == swap.SwapSettings(size=1 << 20, filename="/swapfile")
    assert settings.kernel == system.KernelSettings(package="linux-image-rt-amd64",
                                                    fallback_package="linux-image-amd64")
    assert (settings.hostname, settings.initramfs.update) == ("node1.maas", "always")
    assert (settings.disable_overlayroot, settings.restore_dist_interfaces) == (True, False)
    assert settings.system_upgrade == upgrade.SystemUpgradeSettings(enabled=True)
    assert settings.crash_dumps == crashdumps.CrashDumpSettings(enabled=False)


def test_a_config_without_the_sections_parses_to_the_defaults():
    problems = Problems()
    settings = parse_curthooks({}, problems)
    assert problems.errors == [] and problems.warnings == []
    assert (settings.write_files, settings.cloudconfig, settings.hostname) == ((), (), None)
    assert settings.swap == swap.SwapSettings() and settings.swap.enabled
    assert settings.kernel == system.KernelSettings() and settings.kernel.install
    assert settings.initramfs.update == "auto"
    assert settings.disable_overlayroot and settings.restore_dist_interfaces
    assert not settings.system_upgrade.enabled and settings.crash_dumps.enabled is None


@pytest.mark.parametrize("raw,expected", [
    ({"kernel": {"install": False}}, system.KernelSettings(install=False)),
    ({"kernel": {"install": "false"}}, system.KernelSettings()),  # only a real false, as before
    ({"kernel": {"fallback-package": None, "fallback_package": "x"}}, system.KernelSettings()),
    ({"kernel": {"fallback_package": "x"}}, system.KernelSettings(fallback_package="x")),
    ({"kernel": None}, system.KernelSettings()),
])
def test_the_kernel_section_keeps_its_meanings(raw, expected):
    assert parse_curthooks(raw, Problems()).kernel == expected


@pytest.mark.parametrize("raw,enabled", [({"kernel-crash-dumps": None}, None), ({"kernel-crash-dumps": {}}, None),
                                         ({"kernel-crash-dumps": {"enabled": "false"}}, True),  # Python's truth
                                         ({"kernel-crash-dumps": {"enabled": 0}}, False)])
def test_crash_dumps_enabled_is_read_as_curtin_reads_it(raw, enabled):
    assert parse_curthooks(raw, Problems()).crash_dumps.enabled is enabled


def test_every_problem_names_its_key_path():
    problems = Problems()
    parse_curthooks({"write_files": {"x": {"path": "../escape", "content": "x", "owner": 0}},
                     "swap": {"size": "lots", "filename": 3}, "cloudconfig": {"bad name!": {"content": ""}},
                     "kernel": "linux-image-amd64", "hostname": "two words", "initramfs": {"update": "sometimes"},
                     "kernel-crash-dumps": True}, problems)
    assert [p.path for p in problems.errors] == [
        "write_files.x.path", "write_files.x.owner", "swap.size", "swap.filename", "cloudconfig.bad name!",
        "kernel", "hostname", "initramfs.update", "kernel-crash-dumps"]


def target_tree(tmp_path):
    target = tmp_path / "target"
    for name, text in {"etc/os-release": 'ID=debian\nVERSION_ID="12"\n',
                       "etc/overlayroot.local.conf": "overlayroot=tmpfs\n",
                       "etc/network/interfaces.dist": "auto lo\n",
                       "usr/sbin/update-initramfs": "",
                       KDUMP.lstrip("/"): "",
                       "var/lib/dpkg/status": "Package: kdump-tools\nStatus: install ok installed\nVersion: 1\n\n",
                       }.items():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_text(text)
    (target / "run").mkdir()
    (target / "etc/network/interfaces").symlink_to("/run/interfaces")
    return target


def test_the_steps_read_only_the_parsed_settings(tmp_path):
    problems = Problems()
    settings = parse_curthooks(CFG, problems)
    problems.raise_if_any()
    target = target_tree(tmp_path)
    calls: List[List[str]] = []

    def in_target(argv, stdin, capture=False):
        calls.append(list(argv))
        if argv[:2] == ["apt-get", "install"]:  # the kernel package brings a kernel
            (target / "boot").mkdir(exist_ok=True)
            (target / "boot/vmlinuz-6.1.0-1-rt-amd64").write_text("k")
        return Finished(0, 0.0, (), "" if capture else None)

    fstab = tmp_path / "fstab"
    ctx = HookContext(cfg=Untouchable(), target=str(target), state={"fstab": str(fstab)},
                      log=logging.getLogger("test"), in_target=in_target, parsed=settings)
    with runner.replaced(FakeRunner({"findmnt": "ext4"})):
        done = {step.name: step.run(ctx) for step in STEPS if step.name not in OTHERS}

    assert done["writing-files"] == ["/etc/motd", "/etc/ssl/key"]
    assert (target / "etc/ssl/key").read_bytes() == b"secret\n"
    assert oct(os.stat(target / "etc/ssl/key").st_mode & 0o777) == oct(0o600)
    assert done["writing-cloudconfig"] == ["/etc/cloud/cloud.cfg.d/95-cloudconfig-tz.cfg"]
    assert done["disabling-overlayroot"] and not (target / "etc/overlayroot.local.conf").exists()
    assert done["restoring-dist-interfaces"] == [] and (target / "etc/network/interfaces").is_symlink()
    assert done["installing-kernel"] == ["linux-image-rt-amd64"]
    assert done["setting-up-swap"] == ["/swapfile (1 MiB)"]
    assert fstab.read_text() == "/swapfile\tnone\tswap\tsw\t0\t0\n"
    assert done["setting-hostname"] == ["/etc/hostname", "/etc/hosts"]
    assert (target / "etc/hostname").read_text() == "node1\n"
    assert done["upgrading-system"] == ["apt-get dist-upgrade", "apt-get autoremove"]
    assert done["configuring-crash-dumps"] == [f"{KDUMP} false"]
    assert done["updating-initramfs"] == ["initramfs (initramfs.update is always)"]
    assert ["update-initramfs", "-u", "-k", "all"] in calls


def test_no_step_module_reads_the_raw_config():
    """Parse once: the raw dict stays at the edge (context.py keeps it for image hooks' signature)."""
    import pathlib
    import re

    import cloudinit_maaslike.curthooks as package

    folder = pathlib.Path(package.__file__).parent
    readers = {p.name: re.findall(r"\b(?:ctx|c|context)\.cfg\b", p.read_text()) for p in folder.glob("*.py")
               if p.name not in ("context.py", "__init__.py")}
    assert {name: found for name, found in readers.items() if found} == {}


@pytest.mark.parametrize("section,message", [
    ("builtin", "curthooks: expected a mapping like {mode: auto}, got 'builtin'"),
    ({"mode": "hook"}, "curthooks.mode: expected auto, builtin or target, got 'hook'"),
])
def test_a_bad_curthooks_section_is_one_clear_line(section, message):
    problems = Problems()
    parse_curthooks({"curthooks": section}, problems)
    assert [str(p) for p in problems.errors] == [message]
