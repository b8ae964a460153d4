"""Any failure of any stage ends the same way: FAIL events, signal FAILED, error tarball, unmount, exit 3."""

from __future__ import annotations

import json
import os
import tarfile

import pytest

from cloudinit_maaslike import runner
from cloudinit_maaslike.config.model import PowerState
from cloudinit_maaslike.install import engine as engine_module
from cloudinit_maaslike.install.builtins import BUILTINS
from cloudinit_maaslike.install.engine import Installer, InstallFailed
from cloudinit_maaslike.install.finish import power_command
from cloudinit_maaslike.install.prepare import prepare, validated_config
from cloudinit_maaslike.reporting.reporter import Reporter
from cloudinit_maaslike.runner import ProgramNotStarted
from tests.fakerunner import FakeRunner


@pytest.fixture(autouse=True)
def programs():
    """ip, lsblk for the error tarball: answered, never started."""
    with runner.replaced(FakeRunner()) as fake:
        yield fake


@pytest.fixture
def reported(monkeypatch):
    """What the install told the metadata server: finished events and the signal."""
    seen = {"finish": [], "signal": []}
    monkeypatch.setattr(Reporter, "finish", lambda self, name, description, result="SUCCESS", files=(), extra=None:
                        seen["finish"].append((name, result)))
    monkeypatch.setattr(Reporter, "signal", lambda self, status, error="", files=None:
                        seen["signal"].append((status, error)))
    return seen


@pytest.fixture
def unmounted(monkeypatch):
    calls = []
    monkeypatch.setattr(engine_module, "unmount_all", lambda target: calls.append(target) or [])
    return calls


def installer(tmp_path, **cfg):
    base = {
        "install": {"log_file": str(tmp_path / "install.log"), "error_tarfile": str(tmp_path / "error.tar"),
                    "post_files": []},
        "partitioning_commands": {"builtin": None}, "network_commands": {"builtin": None},
        "curthooks_commands": {"builtin": None},
        "extract_commands": {"builtin": ["curtin", "extract"]},
        "sources": ["cp:///nonexistent"],
    }
    base.update(cfg)
    config, work = prepare(validated_config([base]), target=str(tmp_path / "target"), base=str(tmp_path / "w"))
    return Installer(config, work, console=False, propagate=False), work


@pytest.mark.parametrize("exc", [RuntimeError("a bug"), FileNotFoundError(2, "No such file or directory", "/x"),
                                 KeyError("storage"), MemoryError()])
def test_any_exception_from_a_step_is_a_reported_failure(tmp_path, monkeypatch, reported, unmounted, exc):
    def boom(ctx, args):
        raise exc

    monkeypatch.setitem(BUILTINS, "extract", boom)
    install, work = installer(tmp_path, late_commands={"never": "touch /should-not-run"})
    with pytest.raises(InstallFailed) as info:
        install.run()
    message = str(info.value)
    assert message.startswith("stage extract: " + type(exc).__name__)
    assert "\n" not in message
    assert ("cmd-install/stage-extract", "FAIL") in reported["finish"]
    assert ("cmd-install", "FAIL") in reported["finish"]
    assert reported["signal"] == [("FAILED", message)]
    assert unmounted == [work.target]
    with tarfile.open(tmp_path / "error.tar") as tar:
        failure = tar.extractfile("maaslike-error/failure.txt").read().decode()
    assert type(exc).__name__ in failure and "Traceback" in failure  # the whole story, for whoever debugs
    with open(work.report_file) as handle:
        report = json.load(handle)
    assert report["result"] == "FAIL" and report["failed_stage"] == "extract"
    assert "late" not in [s["name"] for s in report["stages"]]
    log = (tmp_path / "install.log").read_text()
    assert "Traceback" not in log and message in log  # one line in the log MAAS is sent


def test_a_hook_that_cannot_be_started_is_a_reported_failure(tmp_path, monkeypatch, reported, unmounted):
    install, work = installer(tmp_path, curthooks_commands={"builtin": ["curtin", "curthooks"]},
                              extract_commands={"builtin": None})
    hook = os.path.join(work.target, "curtin", "curtin-hooks")
    fake = FakeRunner(answers={"curtin-hooks": ProgramNotStarted([hook], PermissionError(13, "Permission denied"))})
    os.makedirs(os.path.dirname(hook))
    with open(hook, "w") as handle:
        handle.write("#!/bin/sh\n")
    with runner.replaced(fake), pytest.raises(InstallFailed) as info:
        install.run()
    assert str(info.value) == f"stage curthooks: cannot run {hook}: Permission denied (is it executable," \
        " and is its filesystem mounted exec?)"
    assert fake.calls[0] == (hook,)
    assert reported["signal"][0][0] == "FAILED" and unmounted == [work.target]


def test_a_program_that_is_missing_names_itself(tmp_path, reported, unmounted):
    fake = FakeRunner(missing=["frobnicate"])
    install, _ = installer(tmp_path, extract_commands={"builtin": None}, early_commands={"x": ["frobnicate", "-v"]})
    with runner.replaced(fake), pytest.raises(InstallFailed) as info:
        install.run()
    assert "cannot run frobnicate: No such file or directory (not installed" in str(info.value)
    assert reported["signal"][0][0] == "FAILED"


def test_a_stage_left_running_by_a_dead_process_fails_the_next_run(tmp_path, reported, unmounted):
    install, work = installer(tmp_path)
    install.progress.started_event = True
    install.progress.running_stage = "extract"  # what a killed process leaves behind
    install.progress.save(work.progress_file)
    again = Installer(install.config, work, console=False, propagate=False)
    with pytest.raises(InstallFailed, match="stage extract: interrupted"):
        again.run(until="extract")
    assert reported["signal"][0][0] == "FAILED"
    assert ("cmd-install/stage-extract", "FAIL") in reported["finish"]
    third = Installer(install.config, work, console=False, propagate=False)
    assert third.run().failed_stage == "extract"  # the failure stands; nothing reruns


def test_a_failed_install_saves_config_and_log_in_the_work_dir_not_the_target(tmp_path, monkeypatch,
                                                                            reported, unmounted):
    def half_done(ctx, args):
        os.makedirs(os.path.join(ctx.work.target, "etc"))
        os.makedirs(os.path.join(ctx.work.target, "root"))
        raise OSError(28, "No space left on device")

    monkeypatch.setitem(BUILTINS, "extract", half_done)
    install, work = installer(tmp_path)
    with pytest.raises(InstallFailed, match="No space left on device"):
        install.run()
    assert os.listdir(os.path.join(work.target, "root")) == []
    assert os.path.exists(os.path.join(work.top, "failed-install-cfg.yaml"))
    assert os.path.exists(os.path.join(work.top, "failed-install.log"))


class PowerRecordingRunner(FakeRunner):
    """Records the delayed power command instead of starting it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.spawned = []

    def spawn(self, argv, **popen):
        self.calls.append(tuple(argv))
        self.spawned.append(tuple(argv))
        return None


@pytest.fixture
def kexec_install(tmp_path, monkeypatch):
    """An install with kexec on and a target holding a Debian kernel; `kexec` found on PATH, never run."""
    from cloudinit_maaslike.install import finish

    monkeypatch.setattr(finish, "BLOCK_POWER_FILE", str(tmp_path / "no-block-file"))
    monkeypatch.setattr(finish, "SYSTEMD_RUNNING", str(tmp_path / "no-systemd"))
    programs = tmp_path / "sbin"
    programs.mkdir()
    (programs / "kexec").write_text("#!/bin/sh\n")
    (programs / "kexec").chmod(0o755)
    monkeypatch.setenv("PATH", str(programs))
    install, work = installer(tmp_path, extract_commands={"builtin": None}, late_commands={"x": ["true"]},
                              kexec={"mode": "on"}, power_state={"mode": "poweroff", "delay": "+5"})
    boot = os.path.join(work.target, "boot")
    os.makedirs(os.path.join(boot, "grub"))
    with open(os.path.join(boot, "grub", "grub.cfg"), "w") as handle:
        handle.write("set default=\"0\"\nmenuentry 'Debian GNU/Linux' {\n"
                     "\tlinux\t/boot/vmlinuz-6.1.0-28-amd64 root=UUID=0c3a ro quiet\n"
                     "\tinitrd\t/boot/initrd.img-6.1.0-28-amd64\n}\n")
    for name in ("vmlinuz-6.1.0-28-amd64", "initrd.img-6.1.0-28-amd64"):
        with open(os.path.join(boot, name), "wb") as handle:
            handle.write(b"\x7fELF")
    return install, work


def test_kexec_loads_the_installed_kernel_and_reboots_now_instead_of_power_state(kexec_install, reported,
                                                                                 unmounted):
    install, work = kexec_install
    with runner.replaced(PowerRecordingRunner()) as fake:
        install.run()
    boot = os.path.join(work.target, "boot")
    load = ("kexec", "-l", f"{boot}/vmlinuz-6.1.0-28-amd64", "--append=root=UUID=0c3a ro quiet",
            f"--initrd={boot}/initrd.img-6.1.0-28-amd64")
    reboot = tuple(power_command(PowerState("kexec", "now", "rebooting with kexec")))
    assert reboot[-5:] == ("0", "shutdown", "-r", "now", "rebooting with kexec")
    assert fake.calls == [("true",), load, reboot]
    assert fake.spawned == [reboot]
    assert ("cmd-install/kexec", "SUCCESS") in reported["finish"]
    assert reported["finish"][-1] == ("cmd-install", "SUCCESS") and reported["signal"][0][0] == "OK"
    assert unmounted == [work.target]  # after kexec -l read the kernel from it


def test_kexec_with_nothing_to_load_keeps_the_configured_power_state(kexec_install, reported, unmounted):
    install, work = kexec_install
    with open(os.path.join(work.target, "boot", "grub", "grub.cfg"), "w") as handle:
        handle.write("# no entries\n")
    with runner.replaced(PowerRecordingRunner()) as fake:
        install.run()
    assert [argv[-4:] for argv in fake.spawned] == [("5m", "shutdown", "-P", "now")]
    assert reported["signal"][0][0] == "OK"


def test_a_failing_kexec_l_fails_the_install_and_is_reported(kexec_install, reported, unmounted):
    install, work = kexec_install
    with runner.replaced(PowerRecordingRunner({"kexec": 1})) as fake, pytest.raises(InstallFailed) as info:
        install.run()
    message = str(info.value)
    assert message == ("kexec: loading the target's kernel /boot/vmlinuz-6.1.0-28-amd64 failed"
                       " (kexec -l: exit status 1): kexec: failed")
    assert fake.spawned == []  # no reboot after a failed install
    assert ("cmd-install/kexec", "FAIL") in reported["finish"]
    assert ("cmd-install", "FAIL") in reported["finish"]
    assert reported["signal"] == [("FAILED", message)]
    assert unmounted == [work.target]
    with open(work.report_file) as handle:
        report = json.load(handle)
    assert report["result"] == "FAIL" and report["failed_stage"] == "kexec"
    assert [s["result"] for s in report["stages"]] == ["SUCCESS"] * len(report["stages"])
