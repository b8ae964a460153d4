"""Faults for real: an unstartable image hook, a killed install, a full disk, a server that dies.

Each ends reported (FAIL events, signal FAILED, error tarball) and cleaned up
(nothing left mounted under the target), or, for the metadata server that
goes away, in a finished install whose events simply could not all be sent.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
import time

import pytest
import yaml

from cloudinit_maaslike.oauth import Credentials

from .recorder import Recorder

SECRET = "f4ult-s3cret"
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mounts)")


def base_config(tmp_path, recorder=None, **cfg):
    data = {
        "install": {"log_file": str(tmp_path / "install.log"), "error_tarfile": str(tmp_path / "error.tar"),
                    "post_files": [str(tmp_path / "install.log")]},
        "partitioning_commands": {"builtin": None}, "network_commands": {"builtin": None},
    }
    if recorder is not None:
        data["reporting"] = {"maas": {"type": "webhook", "endpoint": recorder.url + "/MAAS/metadata/status/n1",
                                      "consumer_key": "ck", "token_key": "tk", "token_secret": SECRET}}
    data.update(cfg)
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def mounts_under(path) -> list:
    with open("/proc/self/mountinfo") as handle:
        return [line.split()[4] for line in handle if line.split()[4].startswith(str(path))]


def failed_events(recorder):
    return [(e["name"], e.get("result")) for e in recorder.events() if e["event_type"] == "finish"
            and e.get("result") == "FAIL"]


@root_only
def test_an_image_hook_that_cannot_be_started_is_reported_and_the_target_unmounted(tmp_path, maaslike_cmd):
    image = tmp_path / "image"
    (image / "curtin").mkdir(parents=True)
    (image / "etc").mkdir()
    (image / "curtin/curtin-hooks").write_text("#!/bin/sh\necho never\n")
    (image / "curtin/curtin-hooks").chmod(0o644)  # a careless image: not executable
    target = tmp_path / "target"
    recorder = Recorder(Credentials("ck", "tk", SECRET))
    try:
        cfg = base_config(tmp_path, recorder, sources=[f"cp://{image}"],
                          early_commands={"mnt": f"mkdir -p {target}/mnt && mount -t tmpfs none {target}/mnt"})
        done = subprocess.run([*maaslike_cmd, "install", "-c", str(cfg), "-t", str(target)],
                              capture_output=True, text=True, timeout=120)
    finally:
        recorder.stop()
        subprocess.run(["umount", "-R", str(target / "mnt")], capture_output=True)
    assert done.returncode == 3, done.stdout[-2000:] + done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert "stage curthooks: cannot run" in last and "curtin-hooks: Permission denied" in last
    assert "Traceback" not in done.stderr
    assert ("cmd-install/stage-curthooks", "FAIL") in failed_events(recorder)
    assert ("cmd-install", "FAIL") in failed_events(recorder)
    assert mounts_under(target) == []
    assert os.path.exists(tmp_path / "error.tar")


DRIVER = """
import sys
from cloudinit_maaslike.install.prepare import checked_config
from cloudinit_maaslike.install.engine import Installer, InstallFailed
from cloudinit_maaslike.install.workdir import WorkDir
import json
top, target, until = sys.argv[1:4]
work = WorkDir(top, target)
with open(work.config_file) as handle:
    config = checked_config(json.load(handle), where="test")
try:
    Installer(config, work, console=False).run(until=None if until == "all" else until)
except InstallFailed as exc:
    print("FAILED:", exc)
    sys.exit(3)
"""


def test_a_stage_killed_midway_is_not_rerun_and_the_failure_is_reported(tmp_path):
    """As cloud-init would: one process per module; the first is killed in its stage."""
    from cloudinit_maaslike.install.prepare import prepare, validated_config

    recorder = Recorder(Credentials("ck", "tk", SECRET))
    started = tmp_path / "started"
    try:
        cfg = yaml.safe_load(base_config(tmp_path, recorder, extract_commands={"builtin": None},
                                         curthooks_commands={"builtin": None},
                                         early_commands={"slow": f"touch {started}; sleep 60"},
                                         late_commands={"never": f"touch {tmp_path}/late-ran"}).read_text())
        config, work = prepare(validated_config([cfg]), target=str(tmp_path / "target"), base=str(tmp_path / "w"))
        env = dict(os.environ, PYTHONPATH=os.getcwd())
        first = subprocess.Popen([sys.executable, "-c", DRIVER, work.top, work.target, "early"], env=env,
                                 start_new_session=True)
        deadline = time.monotonic() + 30
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert started.exists()
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        second = subprocess.run([sys.executable, "-c", DRIVER, work.top, work.target, "all"], env=env,
                                capture_output=True, text=True, timeout=60)
    finally:
        recorder.stop()
    assert second.returncode == 3, second.stdout + second.stderr
    assert "stage early: interrupted" in second.stdout
    assert not (tmp_path / "late-ran").exists()
    assert ("cmd-install", "FAIL") in failed_events(recorder)
    with open(work.report_file) as handle:
        assert json.load(handle)["failed_stage"] == "early"


@root_only
def test_enospc_during_extract_fails_the_stage_with_one_line(tmp_path, maaslike_cmd):
    payload = tmp_path / "big.bin"
    payload.write_bytes(os.urandom(6 << 20))
    tarball = tmp_path / "root.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(payload, arcname="big.bin")
    target = tmp_path / "target"
    target.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "small", str(target)], check=True)
    try:
        cfg = base_config(tmp_path, None, sources=[f"file://{tarball}"], curthooks_commands={"builtin": None},
                          install={"log_file": str(tmp_path / "install.log"), "unmount": "disabled",
                                   "error_tarfile": str(tmp_path / "error.tar")})
        done = subprocess.run([*maaslike_cmd, "install", "-c", str(cfg), "-t", str(target)],
                              capture_output=True, text=True, timeout=120)
    finally:
        subprocess.run(["umount", str(target)], capture_output=True)
    assert done.returncode == 3, done.stdout[-2000:] + done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert "stage extract" in last and "No space left on device" in last, last
    assert "Traceback" not in done.stderr


def test_the_metadata_server_gone_midway_does_not_stop_the_install(tmp_path, maaslike_cmd):
    recorder = Recorder(Credentials("ck", "tk", SECRET))
    stopper = tmp_path / "stop-server"
    cfg = base_config(tmp_path, recorder, extract_commands={"builtin": None}, curthooks_commands={"builtin": None},
                      early_commands={"a": f"touch {stopper}; sleep 1"},
                      late_commands={"b": f"touch {tmp_path}/late-ran"})
    proc = subprocess.Popen([*maaslike_cmd, "install", "-c", str(cfg), "-t", str(tmp_path / "t")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (stopper.exists() and recorder.posts) and time.monotonic() < deadline:
        time.sleep(0.02)  # events go out in the background: let the first one arrive
    recorder.stop()  # the region controller goes away in the middle of the install
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, out[-2000:] + err
    assert (tmp_path / "late-ran").exists()
    names = [e["name"] for e in recorder.events()]
    assert "cmd-install" in names  # the start got through before the server left
    assert "Traceback" not in err


@root_only
def test_a_disk_that_vanishes_between_plan_and_apply_is_a_reported_failure(tmp_path, monkeypatch):
    """The loop device is planned for, then detached just before the first write."""
    from cloudinit_maaslike.install import blockmeta
    from cloudinit_maaslike.install.engine import Installer, InstallFailed
    from cloudinit_maaslike.install.prepare import prepare, validated_config

    image = tmp_path / "disk.img"
    with open(image, "wb") as handle:
        handle.truncate(128 << 20)
    device = subprocess.run(["losetup", "--find", "--show", str(image)], capture_output=True, text=True,
                            check=True).stdout.strip()
    real_apply = blockmeta.apply_plan

    def detach_then_apply(plan, target):
        subprocess.run(["losetup", "-d", device], check=True)  # the disk goes away here
        return real_apply(plan, target)

    monkeypatch.setattr(blockmeta, "apply_plan", detach_then_apply)
    recorder = Recorder(Credentials("ck", "tk", SECRET))
    try:
        cfg = yaml.safe_load(base_config(tmp_path, recorder, extract_commands={"builtin": None},
                                         curthooks_commands={"builtin": None},
                                         partitioning_commands={"builtin": ["curtin", "block-meta", "custom"]},
                                         storage={"version": 1, "config": [
                                             {"id": "d0", "type": "disk", "path": device, "ptable": "gpt",
                                              "wipe": "superblock"},
                                             {"id": "p1", "type": "partition", "device": "d0", "size": "64M"},
                                             {"id": "f1", "type": "format", "volume": "p1", "fstype": "ext4"}]}
                                         ).read_text())
        config, work = prepare(validated_config([cfg]), target=str(tmp_path / "target"), base=str(tmp_path / "w"))
        with pytest.raises(InstallFailed) as info:
            Installer(config, work, console=False, propagate=False).run()
    finally:
        recorder.stop()
        subprocess.run(["losetup", "-d", device], capture_output=True)
    message = str(info.value)
    assert message.startswith("stage partitioning: ") and f"{device} is gone since planning" in message, message
    assert "nothing was written" in message
    assert ("cmd-install/stage-partitioning", "FAIL") in failed_events(recorder)
    with open(image, "rb") as handle:
        assert handle.read(1 << 20) == bytes(1 << 20)  # not a byte of the disk was touched
