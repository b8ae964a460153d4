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


MAPPING = {"mapping": {"bookworm": {"6.1.0": "-lts"}}, "fallback-package": "linux-image-amd64"}


@pytest.mark.parametrize("kernel,codename,release,expected", [
    pytest.param(MAPPING, "bookworm", "6.1.0-28-amd64", "linux-amd64-lts", id="curtin's linux-<flavor><suffix>"),
    pytest.param(MAPPING, "trixie", "6.1.0-28-amd64", "linux-image-amd64", id="another release: the fallback"),
    pytest.param(MAPPING, "bookworm", "6.12.0-1-amd64", "linux-image-amd64", id="another kernel: the fallback"),
    pytest.param(dict(MAPPING, package="linux-image-rt-amd64"), "bookworm", "6.1.0-28-amd64",
                 "linux-image-rt-amd64", id="a named package wins"),
])
def test_the_kernel_mapping_is_curtins(kernel, codename, release, expected):
    from cloudinit_maaslike.config.problems import Problems
    from cloudinit_maaslike.curthooks.system import kernel_package, parse_kernel

    assert kernel_package(parse_kernel(kernel, "kernel", Problems()), "debian", codename, release) == expected


def test_a_mapping_that_is_not_a_table_is_refused():
    from cloudinit_maaslike.config.problems import Problems
    from cloudinit_maaslike.curthooks.system import parse_kernel

    problems = Problems()
    parse_kernel({"mapping": {"bookworm": "-lts"}}, "kernel", problems)
    assert [str(p) for p in problems.errors] == [
        "kernel.mapping: expected {codename: {kernel version: package suffix}}, got {'bookworm': '-lts'}"]


@pytest.mark.parametrize("available,installed", [(True, "linux-amd64-lts"), (False, "linux-image-amd64")])
def test_an_image_without_a_kernel_gets_the_mapped_one_or_the_fallback(tmp_path, monkeypatch, available, installed):
    import os

    from cloudinit_maaslike.curthooks import system

    monkeypatch.setattr(os, "uname", lambda: os.uname_result(("Linux", "n", "6.1.0-28-amd64", "#1", "x86_64")))
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text("ID=debian\nVERSION_CODENAME=bookworm\n")
    ctx, calls = context(tmp_path, {"kernel": MAPPING}, fail=() if available else ("linux-amd64-lts",))
    assert system.install_kernel(ctx) == [installed]
    assert calls[-1] == ["apt-get", "install", "-q", "-y", "--no-install-recommends", installed]
