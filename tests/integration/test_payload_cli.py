"""`maaslike pack` and `maaslike unpack` as real processes, and the payload's own `curtin`."""

import json
import os
import subprocess
import sys


def run(cmd, cwd, env=None):
    return subprocess.run(cmd, cwd=cwd, env=dict(os.environ, **(env or {})), capture_output=True, text=True,
                          timeout=120)


def test_pack_then_unpack(tmp_path, maaslike_cmd):
    (tmp_path / "c.cfg").write_text("reporting: {maas: {type: webhook, token_secret: s3cr3t}}\n")
    done = run([*maaslike_cmd, "pack", "-c", "c.cfg", "-o", "payload.sh", "cp:///media/root-ro"], tmp_path)
    assert done.returncode == 0, done.stderr
    done = run([*maaslike_cmd, "unpack", "payload.sh", "--output", "out"], tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["md5"], summary["kind"], summary["sources"]) == ("ok", "maaslike-pack", ["cp:///media/root-ro"])
    assert "s3cr3t" not in (tmp_path / "out" / "merged.yaml").read_text()


def test_unpack_damaged_payload_process(tmp_path, maaslike_cmd):
    (tmp_path / "c.cfg").write_text("a: 1\n")
    packed = run([*maaslike_cmd, "pack", "-c", "c.cfg", "--no-package", "-o", "p.sh", "src"], tmp_path)
    assert packed.returncode == 0
    data = (tmp_path / "p.sh").read_bytes()
    (tmp_path / "p.sh").write_bytes(data[:-20])
    done = run([*maaslike_cmd, "unpack", "p.sh", "--output", "out"], tmp_path)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("maaslike unpack: error: ") and done.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_carried_curtin_runs_our_curtin_command_line(tmp_path, maaslike_cmd):
    """What an image without this project gets: bin/curtin from the payload, on its PYTHONPATH."""
    (tmp_path / "c.cfg").write_text("a: 1\n")
    assert run([*maaslike_cmd, "pack", "-c", "c.cfg", "-o", "p.sh", "src"], tmp_path).returncode == 0
    assert run(["bash", "p.sh", "--no-execute"], tmp_path).returncode == 0
    top = tmp_path / "curtin"
    env = {"PYTHON": sys.executable, "PYTHONPATH": str(top)}
    done = run([str(top / "bin" / "curtin"), "--help"], top, env=env)
    assert done.returncode == 0, done.stderr
    assert "curtin" in done.stdout + done.stderr
