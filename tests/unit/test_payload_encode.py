"""Our payloads are curtin pack scripts that any decoder of that format reads."""

import base64
import hashlib
import io
import re
import shlex
import tarfile

import pytest

from cloudinit_maaslike import __version__
from cloudinit_maaslike.payload import KIND_MAASLIKE, PayloadError, decode, merged_config, pack
from cloudinit_maaslike.payload.bundle import CURTIN_WRAPPER

CONFIGS = ["#cloud-config\nreporting: {maas: {token_secret: s3cret}}\n", "a: 'it''s'\nb: ünï ✓", ""]


def upstream_decode(script: bytes):
    """The decoder recipe from reference/curtin.md §2, using only the stdlib."""
    head, _, body = script.partition(b"\n_____PAYLOAD_____\n")
    archive = base64.b64decode(body)
    lines = head.decode().splitlines()
    header = dict(line.split("=", 1) for line in lines if re.match(r"^[A-Z0-9_]+=", line))
    assert hashlib.md5(archive).hexdigest() == shlex.split(header["MD5SUM"])[0]
    command = shlex.split(header["COMMAND"])
    assert command[0] == "(" and command[-1] == ")"
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        members = {info.name: info for info in tar.getmembers()}
        files = {name: tar.extractfile(info).read() for name, info in members.items() if info.isreg()}
    return header, command[1:-1], members, files


def test_format_matches_curtin_pack():
    script = pack(CONFIGS, ["http://h/root.tgz"], sets=["install/log_file=/tmp/it's.log"], created=1700000000)
    lines = script.decode().split("\n")
    assert lines[0] == "#!/bin/bash"
    names = [line.split("=", 1)[0] for line in lines[1:12] if re.match(r"^[A-Z0-9_]+=", line)]
    assert names == ["MD5SUM", "PREFIX", "LABEL", "COMMAND", "PYPATH", "BINPATH", "CREATE_TIME",
                     "MAASLIKE_VERSION", "PAYLOAD_MARKER"]
    assert "COMMAND=( 'curtin' '--install-deps' 'install' '--config=configs/config-000.cfg' " in script.decode()
    assert "'--set=install/log_file=/tmp/it'\\''s.log' 'http://h/root.tgz' )" in script.decode()
    assert "CREATE_TIME='Tue, 14 Nov 2023 22:13:20 +0000'" in lines
    assert f"MAASLIKE_VERSION='{__version__}'" in lines
    assert "set -eu -o pipefail" in lines
    body = script.decode().split("\n_____PAYLOAD_____\n", 1)[1]
    widths = [len(line) for line in body.split("\n")]
    assert widths[-1] == 0 and set(widths[:-2]) == {76} and 0 < widths[-2] <= 76


def test_upstream_style_decoder_reads_it():
    script = pack(CONFIGS, ["cp:///media/root-ro"], sets=["a=1"], created=1700000000)
    header, command, members, files = upstream_decode(script)
    assert command == ["curtin", "--install-deps", "install", "--config=configs/config-000.cfg",
                       "--config=configs/config-001.cfg", "--config=configs/config-002.cfg",
                       "--set=a=1", "cp:///media/root-ro"]
    assert list(members)[0] == "."  # the './' entry tar -C dir -czf - . writes first
    assert all(name.startswith("./") for name in list(members)[1:])
    assert files["./configs/config-001.cfg"] == CONFIGS[1].encode()
    assert members["./configs/config-000.cfg"].mode == 0o600
    assert members["./bin/curtin"].mode == 0o755 and files["./bin/curtin"] == CURTIN_WRAPPER.encode()
    assert "./cloudinit_maaslike/payload/decode.py" in files
    assert not [name for name in members if "__pycache__" in name or name.endswith(".pyc")]
    seen = set()
    for name, info in members.items():  # every directory comes before what it holds
        parent = name.rsplit("/", 1)[0]
        assert name == "." or parent in seen
        seen.add(name)
        assert (info.uid, info.gid, info.uname) == (0, 0, "root")


def test_round_trip():
    script = pack(CONFIGS, ["http://h/a b", "second"], sets=["x/y=json:[1, 2]", "z=it's", "json:w={\"v\": 1}"])
    payload = decode(script)
    assert payload.configs == tuple((f"configs/config-{i:03d}.cfg", text) for i, text in enumerate(CONFIGS))
    assert payload.sources == ("http://h/a b", "second")
    # written as real curtin reads it: the json: prefix on the key (curtin/config.py cmdarg2cfg)
    assert payload.sets == ("json:x/y=[1, 2]", "z=it's", 'json:w={"v": 1}')
    assert (payload.kind, payload.wrapping, payload.md5_ok) == (KIND_MAASLIKE, "plain", True)
    assert payload.header["MAASLIKE_VERSION"] == __version__
    assert "cloudinit_maaslike/payload/encode.py" in payload.members
    merged = merged_config(payload)
    assert merged["x"] == {"y": [1, 2]} and merged["w"] == {"v": 1} and merged["b"] == "ünï ✓"
    assert merged["sources"] == {"00_cmdline": "http://h/a b", "01_cmdline": "second"}


def test_packing_is_reproducible(monkeypatch):
    assert pack(CONFIGS, created=5) == pack(CONFIGS, created=5)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    assert pack(CONFIGS) == pack(CONFIGS, created=1700000000)


def test_without_the_package_only_configs_are_carried():
    payload = decode(pack(["a: 1\n"], include_package=False))
    assert payload.members == {} and payload.configs == (("configs/config-000.cfg", "a: 1\n"),)


def test_extra_files_and_directories(tmp_path):
    (tmp_path / "hook").write_text("#!/bin/sh\n")
    (tmp_path / "hook").chmod(0o755)
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a.txt").write_text("a")
    (tree / "sub" / "b.txt").write_text("b")
    payload = decode(pack(["a: 1\n"], extra_files=[(str(tmp_path / "hook"), "curtin/curtin-hooks"),
                                                   (str(tree), "./data/")], include_package=False))
    assert payload.members == {"curtin/curtin-hooks": b"#!/bin/sh\n", "data/a.txt": b"a",
                               "data/sub/b.txt": b"b"}
    assert payload.modes["curtin/curtin-hooks"] == 0o755 and payload.modes["data/a.txt"] == 0o644


@pytest.mark.parametrize("extra,problem", [
    ("configs/config-000.cfg", "member configs/config-000.cfg is already taken"),
    ("bin/curtin", "member bin/curtin is already taken"),
    ("cloudinit_maaslike/__init__.py", "already taken"),
    ("bin/curtin/inner", "cannot pack bin/curtin/inner: bin/curtin is a file"),
    ("../escape", "climbs out"),
    ("/abs", "absolute name"),
    (".", "is not a file name"),
])
def test_extra_file_names_are_checked(tmp_path, extra, problem):
    (tmp_path / "f").write_text("x")
    with pytest.raises(PayloadError, match=problem):
        pack(["a: 1\n"], extra_files=[(str(tmp_path / "f"), extra)])


def test_missing_extra_file(tmp_path):
    with pytest.raises(PayloadError, match=f"cannot pack {tmp_path}/nope: No such file"):
        pack([], extra_files=[(str(tmp_path / "nope"), "x")])


@pytest.mark.parametrize("kwargs,problem", [
    ({"sets": ["a=1", "token_secret:oops"]}, "cannot pack --set number 2: expected KEY=VALUE"),
    ({"sources": ["--install-deps"]}, "would read as an option"),
    ({"sources": [""]}, "would read as an option"),
])
def test_bad_command_parts(kwargs, problem):
    with pytest.raises(PayloadError, match=problem):
        pack(["a: 1\n"], **kwargs)
