"""system_upgrade: curtin's commands in curtin's order, and only when enabled as curtin reads it."""

from __future__ import annotations

import logging

import pytest

from cloudinit_maaslike.curthooks import crashdumps, upgrade
from cloudinit_maaslike.curthooks.context import HookContext, StepFailed
from cloudinit_maaslike.runner import Finished

OPTIONS = ["--quiet", "--assume-yes", "--option=Dpkg::options::=--force-unsafe-io",
           "--option=Dpkg::Options::=--force-confold"]
UPDATE = ["apt-get", "--quiet", "--option=Acquire::Languages=none", "update"]


def context(tmp_path, cfg, fail=()):
    calls = []

    def in_target(argv, stdin):
        calls.append(list(argv))
        return Finished(1 if argv[-1] in fail else 0, 0.0, ("E: failed",), "")

    ctx = HookContext(cfg=cfg, target=str(tmp_path), state={}, log=logging.getLogger("test"), in_target=in_target)
    return ctx, calls


@pytest.mark.parametrize("cfg", [{}, {"system_upgrade": True}, {"system_upgrade": {}},
                                 {"system_upgrade": {"enabled": "false"}}, {"system_upgrade": None}])
def test_anything_but_an_enabled_mapping_is_off(tmp_path, cfg):
    ctx, calls = context(tmp_path, cfg)
    assert upgrade.system_upgrade(ctx) == [] and calls == []


def test_an_enabled_upgrade_runs_curtins_commands_in_order(tmp_path):
    (tmp_path / "usr/bin").mkdir(parents=True)
    (tmp_path / "usr/bin/eatmydata").touch()
    ctx, calls = context(tmp_path, {"system_upgrade": {"enabled": "yes"}})  # curtin: any other word is true
    upgrade.system_upgrade(ctx)
    assert calls == [UPDATE, ["apt-get", *OPTIONS, "dist-upgrade", "--download-only"],
                     ["apt-get", *OPTIONS, "dist-upgrade"], ["apt-get", "clean"], UPDATE,
                     ["eatmydata", "apt-get", *OPTIONS, "autoremove"]]


def test_a_failed_upgrade_fails_the_step_naming_it(tmp_path):
    ctx, _ = context(tmp_path, {"system_upgrade": {"enabled": True}}, fail=("dist-upgrade",))
    with pytest.raises(StepFailed, match=r"system_upgrade: apt-get .* dist-upgrade failed \(exit 1\): E: failed"):
        upgrade.system_upgrade(ctx)


SCRIPT = "/usr/share/kdump-tools/kdump_set_default"


def kdump_target(tmp_path, installed=True, script=True):
    (tmp_path / "var/lib/dpkg").mkdir(parents=True)
    status = "Package: kdump-tools\nStatus: install ok installed\nVersion: 1:1.8\n\n" if installed else ""
    (tmp_path / "var/lib/dpkg/status").write_text(status)
    if script:
        (tmp_path / "usr/share/kdump-tools").mkdir(parents=True)
        (tmp_path / SCRIPT.lstrip("/")).touch()
    return tmp_path


@pytest.mark.parametrize("enabled,installed,script,expected", [
    (None, True, True, [[SCRIPT]]),
    (None, False, False, []),
    (False, True, True, [[SCRIPT, "false"]]),
    (False, False, False, []),
    (True, True, True, [[SCRIPT, "true"]]),
])
def test_kernel_crash_dumps_as_curtin_switches_them(tmp_path, enabled, installed, script, expected):
    target = kdump_target(tmp_path, installed, script)
    ctx, calls = context(target, {} if enabled is None else {"kernel-crash-dumps": {"enabled": enabled}})
    crashdumps.configure(ctx)
    assert calls == expected


def test_enabling_crash_dumps_installs_kdump_tools_first(tmp_path):
    target = kdump_target(tmp_path, installed=False, script=False)
    ctx, calls = context(target, {"kernel-crash-dumps": {"enabled": True}})
    crashdumps.configure(ctx)
    assert calls == [UPDATE, ["apt-get", *OPTIONS, "install", "--download-only", "kdump-tools"],
                     ["apt-get", *OPTIONS, "install", "kdump-tools"], ["apt-get", "clean"]]


@pytest.mark.parametrize("kernel,os_id,expected", [
    ({"package": "linux-image-rt-amd64", "fallback-package": "x"}, "debian", "linux-image-rt-amd64"),
    ({"fallback-package": "linux-image-cloud-amd64"}, "debian", "linux-image-cloud-amd64"),
    ({"fallback_package": "linux-image-cloud-amd64"}, "debian", "linux-image-cloud-amd64"),
    ({}, "ubuntu", "linux-generic"),
    ({}, "fedora", None),
])
def test_the_kernel_package_is_the_named_one_then_the_fallback(kernel, os_id, expected):
    from cloudinit_maaslike.config.problems import Problems
    from cloudinit_maaslike.curthooks.system import kernel_package, parse_kernel

    assert kernel_package(parse_kernel(kernel, "kernel", Problems()), os_id) == expected
