"""`maaslike install` running real commands: order, environment, failures, reporting."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import tarfile
import time

import pytest
import yaml

from cloudinit_maaslike.oauth import Credentials

from .recorder import Recorder, blackhole

SECRET = "tok3n-s3cret-value"
NO_DISK_STAGES = {
    "partitioning_commands": {"builtin": None},
    "network_commands": {"builtin": None},
    "extract_commands": {"builtin": None},
    "curthooks_commands": {"builtin": None},
}


def write_config(tmp_path, cfg, name="install.yaml"):
    base = {
        "install": {
            "log_file": str(tmp_path / "install.log"),
            "error_tarfile": str(tmp_path / "error.tar"),
            "post_files": [str(tmp_path / "install.log")],
        },
        **NO_DISK_STAGES,
    }
    for key, value in cfg.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    path = tmp_path / name
    path.write_text(yaml.safe_dump(base))
    return path


def install(maaslike_cmd, *args, env=None, timeout=120, cwd=None):
    environ = dict(os.environ)
    environ.update(env or {})
    return subprocess.run([*maaslike_cmd, "install", *args], capture_output=True, text=True,
                          env=environ, timeout=timeout, cwd=cwd)


def test_commands_run_in_sorted_key_order_with_curtins_environment(tmp_path, maaslike_cmd):
    out = tmp_path / "out"
    dump = ('for v in WORKING_DIR OUTPUT_FSTAB OUTPUT_INTERFACES OUTPUT_NETWORK_CONFIG '
            'OUTPUT_NETWORK_STATE TARGET_MOUNT_POINT CONFIG CURTIN_REPORTSTACK CURTIN_PYTHON '
            'OUTPUT_STORAGE_CONFIG; do eval echo "$v=\\$$v"; done > ' + str(out / "env"))
    cfg = write_config(tmp_path, {
        "early_commands": {
            "20_second": ["sh", "-c", f"echo second >> {out}/order"],
            "10_first": f"mkdir -p {out}; echo first >> {out}/order",
            "30_env": dump,
            "40_curtin": f"curtin --version > {out}/curtin",
            "15_skipped": None,
        },
        "late_commands": {"99_last": f"echo late >> {out}/order"},
        "proxy": {"http_proxy": "http://proxy.example:3128"},
    })
    target = tmp_path / "target"
    done = install(maaslike_cmd, "--config", str(cfg), "--target", str(target),
                   "--set", "early_commands/25_set=echo via-set", "http://images/root.tgz")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (out / "order").read_text().split() == ["first", "second", "late"]
    env = dict(line.split("=", 1) for line in (out / "env").read_text().splitlines())
    assert env["TARGET_MOUNT_POINT"] == str(target)
    assert os.path.isdir(env["WORKING_DIR"])
    assert env["CURTIN_REPORTSTACK"] == "cmd-install/stage-early/30_env"
    with open(env["CONFIG"]) as handle:
        config = json.load(handle)
    assert config["early_commands"]["25_set"] == "echo via-set"
    assert config["sources"] == {"00_cmdline": "http://images/root.tgz"}
    assert stat.S_IMODE(os.stat(env["CONFIG"]).st_mode) == 0o600
    for key in ("OUTPUT_FSTAB", "OUTPUT_INTERFACES", "OUTPUT_NETWORK_CONFIG",
                "OUTPUT_NETWORK_STATE", "OUTPUT_STORAGE_CONFIG"):
        assert os.path.exists(env[key]), key
    assert "curtin-compatible" in (out / "curtin").read_text()
    log = (tmp_path / "install.log").read_text()
    assert "[early/25_set] via-set" in log


PATH_VARIABLES = ("WORKING_DIR", "OUTPUT_FSTAB", "OUTPUT_INTERFACES", "OUTPUT_NETWORK_CONFIG",
                  "OUTPUT_NETWORK_STATE", "OUTPUT_STORAGE_CONFIG", "TARGET_MOUNT_POINT", "CONFIG",
                  "MAASLIKE_WORKDIR")


def test_a_relative_workdir_still_gives_commands_absolute_paths(tmp_path, maaslike_cmd):
    """Commands run from WORKING_DIR: a relative CONFIG would name nothing there."""
    out = tmp_path / "out"
    out.mkdir()
    cfg = write_config(tmp_path, {"late_commands": {
        "10_env": f"env -0 > {out}/env",
        "20_check": ["sh", "-c", 'test -r "$CONFIG" && test -f "$OUTPUT_FSTAB" && '
                                 'case "$CONFIG" in /*) ;; *) exit 9;; esac'],
        "30_curtin": f"curtin --version > {out}/curtin",
    }})
    done = install(maaslike_cmd, "--config", str(cfg), "--workdir", "work", "--target", "target", cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    env = dict(item.split("=", 1) for item in (out / "env").read_text().split("\0") if "=" in item)
    for name in PATH_VARIABLES:
        assert os.path.isabs(env[name]) and os.path.exists(env[name]), (name, env[name])
    (top,) = os.listdir(tmp_path / "work")
    assert env["MAASLIKE_WORKDIR"] == str(tmp_path / "work" / top)
    assert env["TARGET_MOUNT_POINT"] == str(tmp_path / "target")
    assert os.path.realpath(env["PWD"]) == os.path.realpath(env["WORKING_DIR"])
    assert all(os.path.isabs(entry) for entry in env["PYTHONPATH"].split(os.pathsep))
    assert "curtin-compatible" in (out / "curtin").read_text()


def test_output_streams_line_by_line_into_the_log(tmp_path, maaslike_cmd):
    cfg = write_config(tmp_path, {"early_commands": {
        "slow": "echo one; sleep 0.3; echo two; echo 'to stderr' >&2"}})
    done = install(maaslike_cmd, "--config", str(cfg), "--target", str(tmp_path / "t"))
    assert done.returncode == 0, done.stderr
    lines = (tmp_path / "install.log").read_text().splitlines()
    one = next(line for line in lines if line.endswith("[early/slow] one"))
    two = next(line for line in lines if line.endswith("[early/slow] two"))
    assert any(line.endswith("[early/slow] to stderr") for line in lines)
    stamp = lambda line: time.mktime(time.strptime(line[:19], "%Y-%m-%d %H:%M:%S")) + \
        int(line[20:23]) / 1000  # noqa: E731
    assert stamp(two) - stamp(one) >= 0.25  # written when printed, not at the end
    assert "[early/slow] one" in done.stdout  # and shown on the console


def test_failure_stops_the_install_and_leaves_a_redacted_error_tarball(tmp_path, maaslike_cmd):
    marker = tmp_path / "late-ran"
    cfg = write_config(tmp_path, {
        "early_commands": {"boom": f"echo about to fail; echo {SECRET}; exit 7"},
        "late_commands": {"never": f"touch {marker}"},
        "reporting": {"maas": {"type": "webhook", "endpoint": "http://127.0.0.1:9/x",
                               "consumer_key": "ck", "token_key": "tk", "token_secret": SECRET}},
    })
    done = install(maaslike_cmd, "--config", str(cfg), "--target", str(tmp_path / "t"))
    assert done.returncode == 3
    error_line = done.stderr.strip().splitlines()[-1]
    assert error_line.startswith("maaslike install: error: stage early: command boom failed (exit status 7)")
    assert "exit 7" in error_line and SECRET not in done.stderr + done.stdout
    assert not marker.exists()
    with tarfile.open(tmp_path / "error.tar") as tar:
        names = tar.getnames()
        assert {"maaslike-error/config.json", "maaslike-error/install.log",
                "maaslike-error/failure.txt"} <= set(names)
        contents = b"".join(tar.extractfile(n).read() for n in names if tar.getmember(n).isfile())
    assert SECRET.encode() not in contents and b"about to fail" in contents
    assert stat.S_IMODE(os.stat(tmp_path / "error.tar").st_mode) == 0o600
    assert SECRET not in (tmp_path / "install.log").read_text()


def test_report_has_per_stage_timings(tmp_path, maaslike_cmd):
    cfg = write_config(tmp_path, {"early_commands": {"a": "sleep 0.2"}})
    done = install(maaslike_cmd, "--config", str(cfg), "--target", str(tmp_path / "t"),
                   "--workdir", str(tmp_path / "work"))
    assert done.returncode == 0, done.stderr
    (top,) = os.listdir(tmp_path / "work")
    report = json.loads((tmp_path / "work" / top / "install-report.json").read_text())
    assert report["result"] == "SUCCESS"
    names = [s["name"] for s in report["stages"]]
    assert names == ["early", "partitioning", "network", "extract", "curthooks", "hook", "late"]
    assert report["stages"][0]["seconds"] >= 0.2 and report["total_seconds"] >= 0.2


def test_custom_stage_list(tmp_path, maaslike_cmd):
    out = tmp_path / "order"
    cfg = write_config(tmp_path, {"stages": ["late", "mine", "early"],
                                  "mine_commands": {"x": f"echo mine >> {out}"},
                                  "early_commands": {"x": f"echo early >> {out}"},
                                  "late_commands": {"x": f"echo late >> {out}"}})
    done = install(maaslike_cmd, "--config", str(cfg), "--target", str(tmp_path / "t"))
    assert done.returncode == 0, done.stderr
    assert out.read_text().split() == ["late", "mine", "early"]


def test_invalid_config_is_refused_before_anything_runs(tmp_path, maaslike_cmd):
    marker = tmp_path / "ran"
    cfg = write_config(tmp_path, {
        "early_commands": {"a": f"touch {marker}", "b": {"not": "a command"}},
        "install": {"post_files": "x", "unmount": "sometimes"},
        "power_state": {"mode": "explode"},
    })
    done = install(maaslike_cmd, "--config", str(cfg), "--target", str(tmp_path / "t"))
    assert done.returncode == 2 and not marker.exists()
    line = done.stderr.strip().splitlines()[-1]
    assert "3 problems" in line
    for path in ("early_commands.b", "install.unmount", "power_state.mode"):
        assert path in line
    assert not (tmp_path / "t").exists()


def test_dry_run_prints_the_plan_and_touches_nothing(tmp_path, maaslike_cmd):
    marker = tmp_path / "ran"
    cfg = write_config(tmp_path, {
        "early_commands": {"a": f"touch {marker}"},
        "partitioning_commands": {"builtin": ["curtin", "block-meta", "custom"]},
        "storage": {"version": 1, "config": [{"id": "sda", "type": "disk", "path": "/dev/vda",
                                              "wipe": "superblock", "ptable": "gpt"}]},
    })
    done = install(maaslike_cmd, "--config", str(cfg), "--dry-run", "--json", "tgz:http://i/r.tgz")
    assert done.returncode == 2, done.stderr  # the plan predicts the install would stop
    assert "storage.config[0] (id: sda)" in done.stderr
    plan = json.loads(done.stdout)
    assert [s["name"] for s in plan["stages"]][0] == "early"
    # planned against this machine: /dev/vda does not exist or is in use here
    (devices,) = plan["devices"]
    assert devices.startswith("(the install would stop here: storage config: ")
    assert "storage.config[0] (id: sda)" in devices
    assert plan["sources"] == ["tgz:http://i/r.tgz"]
    assert not marker.exists() and not (tmp_path / "install.log").exists()


def test_target_must_be_empty(tmp_path, maaslike_cmd):
    target = tmp_path / "t"
    target.mkdir()
    (target / "leftover").write_text("x")
    cfg = write_config(tmp_path, {"early_commands": {"a": "true"}})
    done = install(maaslike_cmd, "--config", str(cfg), "--target", str(target))
    assert done.returncode == 2 and "not empty" in done.stderr


def test_events_reach_the_webhook_signed_in_order(tmp_path, maaslike_cmd):
    creds = Credentials("ck", "tk", SECRET)
    recorder = Recorder(creds)
    try:
        cfg = write_config(tmp_path, {
            "early_commands": {"a": "true"},
            "late_commands": {"b": "true"},
            "reporting": {"maas": {"type": "webhook", "endpoint": recorder.url + "/MAAS/metadata/status/n1",
                                   "consumer_key": "ck", "token_key": "tk", "token_secret": SECRET}},
        })
        done = install(maaslike_cmd, "--config", str(cfg), "--target", str(tmp_path / "t"))
        assert done.returncode == 0, done.stderr
    finally:
        recorder.stop()
    events = recorder.events()
    seen = [(e["event_type"], e["name"]) for e in events]
    assert seen[0] == ("start", "cmd-install") and seen[-1] == ("finish", "cmd-install")
    for stage in ("early", "partitioning", "network", "extract", "curthooks", "hook", "late"):
        assert ("start", f"cmd-install/stage-{stage}") in seen
        assert ("finish", f"cmd-install/stage-{stage}") in seen
    assert ("finish", "cmd-install/stage-early/a") in seen
    assert all(e.get("result") in (None, "SUCCESS") for e in events)
    assert all(e["origin"] == "curtin" for e in events)
    assert all(p.signed_ok is True for p in recorder.posts)
    assert all(p.headers["Content-Type"] == "application/json" for p in recorder.posts)
    final = events[-1]
    assert final["files"][0]["path"] == str(tmp_path / "install.log")
    assert set(final["timings"]) >= {"early", "late"}
    import base64

    posted_log = base64.b64decode(final["files"][0]["content"]).decode()
    assert "finish: cmd-install/stage-late" in posted_log and SECRET not in posted_log


@pytest.mark.parametrize("kind", ["refused", "blackhole"])
def test_a_dead_endpoint_costs_only_a_few_seconds(tmp_path, maaslike_cmd, kind):
    hole = blackhole() if kind == "blackhole" else None
    port = hole.getsockname()[1] if hole else 9
    try:
        cfg = write_config(tmp_path, {
            "early_commands": {f"c{i:02d}": "true" for i in range(10)},
            "reporting": {"maas": {"type": "webhook", "endpoint": f"http://127.0.0.1:{port}/s",
                                   "timeout": 2}},
        })
        started = time.monotonic()
        done = install(maaslike_cmd, "--config", str(cfg), "--target", str(tmp_path / "t"))
        elapsed = time.monotonic() - started
    finally:
        if hole:
            hole.close()
    assert done.returncode == 0, done.stderr
    assert elapsed < 8, elapsed


def test_legacy_maas_reporter_signals_ok_with_the_log(tmp_path, maaslike_cmd):
    creds = Credentials("ck", "tk", SECRET)
    recorder = Recorder(creds)
    try:
        cfg = write_config(tmp_path, {
            "early_commands": {"a": "echo hello"},
            "reporter": {"maas": {"url": recorder.url + "/MAAS/metadata/curtin/latest/?op=signal",
                                  "consumer_key": "ck", "token_key": "tk", "token_secret": SECRET}},
        })
        done = install(maaslike_cmd, "--config", str(cfg), "--target", str(tmp_path / "t"))
        assert done.returncode == 0, done.stderr
    finally:
        recorder.stop()
    (signal,) = [p for p in recorder.posts if "op=signal" in p.path]
    assert signal.signed_ok is True
    assert signal.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert b'name="status"\r\n\r\nOK\r\n' in signal.body
    assert b'filename="install.log"' in signal.body and b"hello" in signal.body


def test_power_state_runs_shutdown_after_success(tmp_path, maaslike_cmd):
    fake = tmp_path / "bin"
    fake.mkdir()
    record = tmp_path / "shutdown-args"
    (fake / "shutdown").write_text(f"#!/bin/sh\necho \"$@\" > {record}\n")
    (fake / "shutdown").chmod(0o755)
    cfg = write_config(tmp_path, {"early_commands": {"a": "true"},
                                  "power_state": {"mode": "reboot", "delay": "now", "message": "bye"}})
    done = install(maaslike_cmd, "--config", str(cfg), "--target", str(tmp_path / "t"),
                   env={"PATH": f"{fake}:{os.environ['PATH']}"})
    assert done.returncode == 0, done.stderr
    for _ in range(50):
        if record.exists():
            break
        time.sleep(0.05)
    assert record.read_text().split() == ["-r", "now", "bye"]


def test_saves_redacted_config_and_log_into_an_installed_target(tmp_path, maaslike_cmd):
    target = tmp_path / "t"
    cfg = write_config(tmp_path, {
        "early_commands": {"a": f"mkdir -p {target}/etc {target}/root"},
        "install": {"save_install_config": "/root/curtin-install-cfg.yaml",
                    "save_install_log": "/root/curtin-install.log"},
        "reporting": {"maas": {"type": "webhook", "endpoint": "http://127.0.0.1:9/",
                               "consumer_key": "ck", "token_key": "tk", "token_secret": SECRET}},
    })
    done = install(maaslike_cmd, "--config", str(cfg), "--target", str(target))
    assert done.returncode == 0, done.stderr
    saved = target / "root" / "curtin-install-cfg.yaml"
    assert stat.S_IMODE(os.stat(saved).st_mode) == 0o400
    text = saved.read_text()
    assert SECRET not in text and "token_key: tk" in text
    saved_log = target / "root" / "curtin-install.log"
    assert "finish: cmd-install/stage-late" in saved_log.read_text() or "stage late" in saved_log.read_text()
    assert stat.S_IMODE(os.stat(saved_log).st_mode) == 0o400  # as curtin leaves it


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to mount")
def test_everything_under_the_target_is_unmounted_unless_disabled(tmp_path, maaslike_cmd):
    target = tmp_path / "t"
    mount = f"mkdir -p {target}/mnt/a && mount -t tmpfs none {target}/mnt && mkdir {target}/mnt/b && " \
            f"mount -t tmpfs none {target}/mnt/b"
    cfg = write_config(tmp_path, {"early_commands": {"m": mount}})
    done = install(maaslike_cmd, "--config", str(cfg), "--target", str(target))
    assert done.returncode == 0, done.stderr
    with open("/proc/self/mountinfo") as handle:
        assert str(target) not in handle.read()
    kept = tmp_path / "kept"
    cfg = write_config(tmp_path, {"early_commands": {"m": mount.replace(str(target), str(kept))},
                                  "install": {"unmount": "disabled"}}, name="keep.yaml")
    done = install(maaslike_cmd, "--config", str(cfg), "--target", str(kept))
    try:
        assert done.returncode == 0, done.stderr
        with open("/proc/self/mountinfo") as handle:
            assert str(kept / "mnt") in handle.read()
    finally:
        subprocess.run(["umount", "-R", str(kept / "mnt")], check=False)


def test_image_finalize_runs_in_the_hook_stage_before_late(tmp_path, maaslike_cmd):
    target = tmp_path / "t"
    order = tmp_path / "order"
    finalize = (f"#!/bin/sh\necho finalize cwd=$(pwd) py=$CURTIN_PYTHON "
                f"target=$TARGET_MOUNT_POINT >> {order}\n")
    make = (f"mkdir -p {target}/curtin && printf '%s' \"$FINALIZE\" > {target}/curtin/finalize "
            f"&& chmod +x {target}/curtin/finalize")
    cfg = write_config(tmp_path, {"early_commands": {"a": make},
                                  "late_commands": {"z": f"echo late >> {order}"}})
    done = install(maaslike_cmd, "--config", str(cfg), "--target", str(target),
                   env={"FINALIZE": finalize})
    assert done.returncode == 0, done.stderr
    first, second = order.read_text().splitlines()
    assert first.startswith("finalize ") and f"target={target}" in first and "py=/" in first
    assert second == "late"


def test_a_failing_finalize_fails_the_hook_stage(tmp_path, maaslike_cmd):
    target = tmp_path / "t"
    make = (f"mkdir -p {target}/curtin && printf '#!/bin/sh\\necho finalize broke\\nexit 4\\n' "
            f"> {target}/curtin/finalize && chmod +x {target}/curtin/finalize")
    cfg = write_config(tmp_path, {"early_commands": {"a": make}})
    done = install(maaslike_cmd, "--config", str(cfg), "--target", str(target))
    assert done.returncode == 3
    assert "stage hook: command finalize failed (exit status 4)" in done.stderr
    assert "finalize broke" in done.stderr


def test_simple_mode_with_no_such_disk_fails_before_writing(tmp_path, maaslike_cmd):
    cfg = write_config(tmp_path, {"partitioning_commands": {"builtin": ["curtin", "block-meta", "simple"]},
                                  "block-meta": {"devices": ["/dev/no-such-disk"]}})
    done = install(maaslike_cmd, "--config", str(cfg), "--target", str(tmp_path / "t"))
    assert done.returncode == 3
    assert "block-meta.devices: none of /dev/no-such-disk is a disk" in done.stderr


def test_set_with_json_on_the_key_limits_the_stages_as_in_curtin(tmp_path, maaslike_cmd):
    marks = tmp_path / "marks"
    cfg = write_config(tmp_path, {"early_commands": {"a": f"echo early >> {marks}"},
                                  "late_commands": {"b": f"echo late >> {marks}"}})
    done = install(maaslike_cmd, "--config", str(cfg), "--target", str(tmp_path / "t"),
                   "--set", 'json:stages=["early"]')
    assert done.returncode == 0, done.stderr
    assert marks.read_text() == "early\n"


def test_a_typo_in_a_top_level_key_stops_before_anything_runs(tmp_path, maaslike_cmd):
    marks = tmp_path / "marks"
    cfg = write_config(tmp_path, {"early_commands": {"a": f"echo early >> {marks}"},
                                  "stoarge": {"version": 1, "config": []}})
    done = install(maaslike_cmd, "--config", str(cfg), "--target", str(tmp_path / "t"), "--dry-run")
    assert done.returncode == 2 and "stoarge: unknown key; did you mean 'storage'?" in done.stderr
    assert not marks.exists()


def test_extra_rsync_args_reach_the_copy_of_a_directory_source(tmp_path, maaslike_cmd):
    """curtin's install.extra_rsync_args: here an --exclude keeps a directory of the image out of the target."""
    image = tmp_path / "image"
    (image / "etc").mkdir(parents=True)
    (image / "etc/hostname").write_text("image\n")
    (image / "var/cache/big").mkdir(parents=True)
    (image / "var/cache/big/blob").write_bytes(b"x" * 4096)
    target = tmp_path / "t"
    cfg = write_config(tmp_path, {"stages": ["extract"], "extract_commands": {"builtin": ["curtin", "extract"]},
                                  "sources": [f"cp://{image}"],
                                  "install": {"extra_rsync_args": ["--exclude=/var/cache/big"]}})
    done = install(maaslike_cmd, "--config", str(cfg), "--target", str(target))
    assert done.returncode == 0, done.stderr
    assert (target / "etc/hostname").read_text() == "image\n"
    assert (target / "var/cache").is_dir() and not (target / "var/cache/big").exists()


def test_extra_rsync_args_that_are_not_a_list_are_refused(tmp_path, maaslike_cmd):
    cfg = write_config(tmp_path, {"install": {"extra_rsync_args": "--exclude=/x"}})
    done = install(maaslike_cmd, "--config", str(cfg), "--target", str(tmp_path / "t"))
    assert done.returncode != 0 and "install.extra_rsync_args: expected a list of rsync arguments" in done.stderr


@pytest.mark.parametrize("append", [True, False])
def test_log_file_append_keeps_the_earlier_install_log(tmp_path, maaslike_cmd, append):
    log = tmp_path / "install.log"
    log.write_text("an earlier install's line\n")
    cfg = write_config(tmp_path, {"early_commands": {"a": "echo this-install"},
                                  "install": {"log_file_append": append}})
    done = install(maaslike_cmd, "--config", str(cfg), "--target", str(tmp_path / "t"))
    assert done.returncode == 0, done.stderr
    text = log.read_text()
    assert "this-install" in text and ("an earlier install's line" in text) is append
