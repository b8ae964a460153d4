"""`curtin in-target` / `maaslike in-target` into a real chroot (busybox root)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import yaml

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chroot, bind mounts)"),
    pytest.mark.skipif(shutil.which("busybox") is None, reason="needs busybox-static"),
]

APPLETS = ("sh", "cat", "ls", "test", "true", "echo", "touch", "sleep", "id")
TARGET_RESOLV = "nameserver 192.0.2.53 # the target's own\n"


def make_root(path) -> str:
    for sub in ("bin", "etc", "usr/sbin", "tmp"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    shutil.copy(shutil.which("busybox"), os.path.join(path, "bin", "busybox"))
    for applet in APPLETS:
        os.symlink("busybox", os.path.join(path, "bin", applet))
    with open(os.path.join(path, "etc", "resolv.conf"), "w") as handle:
        handle.write(TARGET_RESOLV)
    return str(path)


def mounts_under(path) -> list:
    with open("/proc/self/mountinfo") as handle:
        return [line.split()[4] for line in handle if line.split()[4].startswith(str(path))]


def in_target(maaslike_cmd, root, *command, extra=()):
    return subprocess.run([*maaslike_cmd, "in-target", "-t", root, *extra, "--", *command],
                          capture_output=True, text=True, timeout=60)


def test_command_runs_chrooted_with_mounts_policy_and_host_resolv(tmp_path, maaslike_cmd):
    root = make_root(tmp_path / "root")
    script = ("cat /etc/resolv.conf; /usr/sbin/policy-rc.d; echo policy=$?; "
              "test -c /dev/null && echo dev-ok; test -d /proc/self && echo proc-ok; "
              "test -d /sys/kernel && echo sys-ok; echo root=$(ls /bin/busybox)")
    done = in_target(maaslike_cmd, root, "/bin/sh", "-c", script)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    if os.path.exists("/etc/resolv.conf"):
        with open("/etc/resolv.conf") as handle:
            assert handle.read().strip().splitlines()[0] in out
        assert "192.0.2.53" not in out
    assert "policy=101" in out and "dev-ok" in out and "proc-ok" in out and "sys-ok" in out
    assert "root=/bin/busybox" in out
    # everything undone
    assert mounts_under(tmp_path / "root") == []
    assert not os.path.lexists(os.path.join(root, "usr/sbin/policy-rc.d"))
    with open(os.path.join(root, "etc/resolv.conf")) as handle:
        assert handle.read() == TARGET_RESOLV


def test_failing_command_keeps_its_exit_code_and_undoes_everything(tmp_path, maaslike_cmd):
    root = make_root(tmp_path / "root")
    done = in_target(maaslike_cmd, root, "/bin/sh", "-c", "echo partial; exit 7")
    assert done.returncode == 7 and "partial" in done.stdout
    assert mounts_under(tmp_path / "root") == []
    assert not os.path.lexists(os.path.join(root, "usr/sbin/policy-rc.d"))


def test_failure_half_way_through_set_up_undoes_what_was_done(tmp_path, maaslike_cmd):
    root = make_root(tmp_path / "root")
    with open(os.path.join(root, "run"), "w") as handle:  # /run cannot be bound onto a file
        handle.write("not a directory")
    done = in_target(maaslike_cmd, root, "/bin/true")
    assert done.returncode != 0
    assert len(done.stderr.strip().splitlines()) == 1 and "run" in done.stderr
    assert mounts_under(tmp_path / "root") == []


def test_an_images_own_policy_rc_d_is_left_alone(tmp_path, maaslike_cmd):
    root = make_root(tmp_path / "root")
    policy = os.path.join(root, "usr/sbin/policy-rc.d")
    with open(policy, "w") as handle:
        handle.write("#!/bin/sh\nexit 0\n")
    os.chmod(policy, 0o755)
    done = in_target(maaslike_cmd, root, "/bin/sh", "-c", "/usr/sbin/policy-rc.d; echo rc=$?")
    assert "rc=0" in done.stdout
    with open(policy) as handle:
        assert handle.read() == "#!/bin/sh\nexit 0\n"


def test_allow_daemons_skips_the_policy(tmp_path, maaslike_cmd):
    root = make_root(tmp_path / "root")
    done = in_target(maaslike_cmd, root, "/bin/sh", "-c", "test -e /usr/sbin/policy-rc.d; echo rc=$?",
                     extra=("-a",))
    assert "rc=1" in done.stdout


def test_late_commands_use_curtin_in_target_during_an_install(tmp_path, maaslike_cmd):
    target = tmp_path / "target"
    source_root = make_root(tmp_path / "image")
    cfg = {
        "install": {"log_file": str(tmp_path / "install.log"), "error_tarfile": None,
                    "post_files": []},
        "partitioning_commands": {"builtin": None}, "network_commands": {"builtin": None},
        "curthooks_commands": {"builtin": None},
        "extract_commands": {"builtin": None, "copy": f"cp -a {source_root}/. {target}/"},
        "late_commands": {
            "10": ["curtin", "in-target", "--", "sh", "-c", "echo from-inside > /marker"],
            "20": "curtin in-target -- sh -c 'echo $TARGET_MOUNT_POINT > /via-shell'",
        },
    }
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    done = subprocess.run([*maaslike_cmd, "install", "-c", str(path), "-t", str(target)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (target / "marker").read_text() == "from-inside\n"
    assert (target / "via-shell").exists()
    assert mounts_under(target) == []
