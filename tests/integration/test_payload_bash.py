"""Our payloads run as plain scripts, the way an image without this project runs them.

cloud-init executes ``#!`` user-data as a program; the extractor must then do
what curtin's does (modes, options, PYTHONPATH/PATH, exec COMMAND) and, unlike
curtin's, refuse a damaged archive before writing anything.
"""

import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys

import pytest

from cloudinit_maaslike.payload import decode, pack

TRICKY = ["http://h/it's a source", "dd-tgz:http://h/$HOME/`id`/\"q\"/\\"]
SETS = ["install/log_file=/tmp/it's.log"]
CONFIGS = ["#cloud-config\na: 1\n", "b: 'x'\n"]

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


@pytest.fixture
def payload(tmp_path):
    path = tmp_path / "part-001"
    path.write_bytes(pack(CONFIGS, TRICKY, sets=SETS))
    path.chmod(0o700)
    return path


def sh(args, cwd, env=None, **kwargs):
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(args, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=60, **kwargs)


def test_no_execute_extracts_the_right_files(payload, tmp_path):
    done = sh([str(payload), "--no-execute"], cwd=tmp_path)  # run as cloud-init would: directly
    assert done.returncode == 0, done.stderr
    top = tmp_path / "curtin"
    assert "not running the command (--no-execute)" in done.stderr and str(top) in done.stderr
    assert (top / "configs" / "config-000.cfg").read_text() == CONFIGS[0]
    assert (top / "configs" / "config-001.cfg").read_text() == CONFIGS[1]
    assert stat.S_IMODE(os.stat(top / "bin" / "curtin").st_mode) == 0o755
    assert (top / "cloudinit_maaslike" / "payload" / "decode.py").is_file()
    assert not list(tmp_path.glob("maaslike-payload.*"))
    again = sh([str(payload), "--no-execute"], cwd=tmp_path)  # like curtin: the prefix must be new
    assert again.returncode == 1 and "must not exist yet" in again.stderr


def test_prefix_options(payload, tmp_path):
    cases = [(["-p", "one"], "one"), (["--prefix=two"], "two"), (["--prefix", "three", "extract"], "three"),
             (["-pfour"], "four")]
    for args, where in cases:
        done = sh(["bash", str(payload), *args, "--no-execute"], cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert (tmp_path / where / "configs" / "config-000.cfg").exists()


def test_info_prints_a_header_bash_reads_back(payload, tmp_path):
    done = sh(["bash", str(payload), "info"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    names = [line.split("=", 1)[0] for line in done.stdout.splitlines()]
    assert names == ["LABEL", "PREFIX", "COMMAND", "CREATE_TIME", "MD5SUM", "MAASLIKE_VERSION"]
    reread = sh(["bash", "-c", 'eval "$1"; printf "%s\\0" "${COMMAND[@]}"', "-", done.stdout], cwd=tmp_path)
    assert reread.stdout.split("\0")[:-1] == list(decode(payload.read_bytes()).command)


def test_check_and_dump(payload, tmp_path):
    done = sh(["bash", str(payload), "check"], cwd=tmp_path)
    assert done.returncode == 0 and "matches the header" in done.stderr
    dumped = subprocess.run(["bash", str(payload), "dump"], cwd=tmp_path, capture_output=True, timeout=60)
    assert hashlib.md5(dumped.stdout).hexdigest() == decode(payload.read_bytes()).md5
    assert not os.path.exists(tmp_path / "curtin")


def tamper(payload, new_md5="0" * 32):
    text = payload.read_bytes()
    payload.write_bytes(re.sub(rb"MD5SUM='[0-9a-f]+'", b"MD5SUM='" + new_md5.encode() + b"'", text, count=1))


def test_damaged_archive_is_refused_before_anything_is_written(payload, tmp_path):
    tamper(payload)
    check = sh(["bash", str(payload), "check"], cwd=tmp_path)
    assert check.returncode == 1 and "the header says 00000000000000000000000000000000" in check.stderr
    done = sh(["bash", str(payload)], cwd=tmp_path)
    assert done.returncode == 1 and "refusing to extract a damaged archive" in done.stderr
    assert sorted(os.listdir(tmp_path)) == ["part-001"]


def test_undecodable_base64_is_refused(payload, tmp_path):
    payload.write_bytes(payload.read_bytes() + b"not base64 !!\n")
    done = sh(["bash", str(payload), "--no-execute"], cwd=tmp_path)
    assert done.returncode == 1 and "does not decode" in done.stderr
    assert sorted(os.listdir(tmp_path)) == ["part-001"]


def test_runs_the_command_with_paths_like_curtin(payload, tmp_path):
    """A fake python stands in for ``python3 -m cloudinit_maaslike.curtincmd``."""
    record = tmp_path / "record"
    fake = tmp_path / "fakepy"
    fake.write_text('#!/bin/bash\n{ printf "%s\\0" "$@"; '
                    'printf "\\n%s\\n%s\\n%s\\n" "$PWD" "$PYTHONPATH" "$PATH"; }'
                    f' > {record}\nexit 7\n')
    fake.chmod(0o755)
    done = sh([str(payload), "-v"], cwd=tmp_path, env={"PYTHON": str(fake), "PYTHONPATH": "/keep"})
    assert done.returncode == 7, done.stderr  # exec: the command's status is the script's
    assert "running: curtin --install-deps install" in done.stderr
    argv, cwd, pythonpath, path = record.read_text().split("\n")[:4]
    top = str(tmp_path / "curtin")
    assert argv.split("\0")[:-1] == ["-m", "cloudinit_maaslike.curtincmd",
                                     *decode(payload.read_bytes()).command[1:]]
    assert (cwd, pythonpath) == (top, f"{top}:/keep")
    assert path.startswith(f"{top}/bin:")


def test_carried_package_is_the_one_imported(payload, tmp_path):
    assert sh(["bash", str(payload), "--no-execute"], cwd=tmp_path).returncode == 0
    top = tmp_path / "curtin"
    done = sh([sys.executable, "-c", "import cloudinit_maaslike.payload as p; print(p.__file__)"],
              cwd=tmp_path, env={"PYTHONPATH": str(top)})
    assert done.stdout.strip() == str(top / "cloudinit_maaslike" / "payload" / "__init__.py"), done.stderr


def test_usage(payload, tmp_path):
    assert sh(["bash", str(payload), "--help"], cwd=tmp_path).returncode == 0
    for args, message in ((["--bogus"], "unknown option '--bogus'"), (["info", "check"], "expected one mode"),
                          (["frobnicate"], "unknown mode 'frobnicate'"), (["-p"], "-p needs a directory")):
        done = sh(["bash", str(payload), *args], cwd=tmp_path)
        assert done.returncode == 2 and message in done.stderr and "Usage:" in done.stderr
    assert sorted(os.listdir(tmp_path)) == ["part-001"]


def test_upstream_shell_recipe_reads_it(payload, tmp_path):
    """What MAAS-era tooling does by hand: sed after the marker, base64 -d, md5sum, tar."""
    recipe = "sed -n '1,/^_____PAYLOAD_____$/!p' \"$1\" | base64 --decode"
    summed = sh(["bash", "-c", recipe + " | md5sum", "-", str(payload)], cwd=tmp_path)
    assert summed.stdout.split()[0] == decode(payload.read_bytes()).header["MD5SUM"]
    listed = sh(["bash", "-c", recipe + " | tar -tzf -", "-", str(payload)], cwd=tmp_path)
    names = listed.stdout.split()
    assert names[0] == "./" and "./configs/config-000.cfg" in names and "./bin/curtin" in names
