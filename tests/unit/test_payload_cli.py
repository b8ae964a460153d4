"""`maaslike unpack` and `maaslike pack`, run in-process."""

import io
import json
import os
import stat
import sys

import pytest
import yaml

from cloudinit_maaslike.cli import main
from cloudinit_maaslike.payload import decode
from tests.fixtures.payload.curtin_format import curtin_pack

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "payload")
MAAS = os.path.join(FIXTURES, "curtin-maas.sh")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def write(path, data):
    with open(path, "wb") as handle:
        handle.write(data)
    return str(path)


def test_unpack_maas_payload(tmp_path, capsys):
    out_dir = tmp_path / "out"
    code, out, err = run(capsys, "unpack", MAAS, "--output", str(out_dir))
    assert (code, err) == (0, "")
    summary = json.loads(out)
    assert set(summary) == {"md5", "kind", "wrapping", "configs", "command", "sources", "sets", "members",
                            "output"}
    assert summary["md5"] == "ok" and summary["kind"] == "curtin-pack" and summary["wrapping"] == "plain"
    assert summary["configs"] == [f"configs/config-00{i}.cfg" for i in range(4)]
    assert summary["sources"] == [summary["command"][-1]] and summary["members"] == 4
    assert summary["output"] == str(out_dir)
    assert sorted(os.listdir(out_dir)) == ["command.json", "configs", "merged.yaml"]
    for index in range(4):
        written = out_dir / "configs" / f"config-00{index}.cfg"
        with open(os.path.join(FIXTURES, f"maas-config-00{index}.cfg"), "rb") as handle:
            assert written.read_bytes() == handle.read()
        assert mode(written) == 0o600
    assert json.loads((out_dir / "command.json").read_text()) == summary["command"]
    merged_text = (out_dir / "merged.yaml").read_text()
    assert "FakeTokenSecretValue" not in merged_text
    merged = yaml.safe_load(merged_text)
    assert merged["reporting"]["maas"]["token_secret"] == "<redacted>"
    assert merged["reporting"]["maas"]["token_key"] == "FakeTokenKey"
    assert merged["storage"]["version"] == 1
    modes = (mode(out_dir), mode(out_dir / "merged.yaml"), mode(out_dir / "command.json"))
    assert modes == (0o700, 0o600, 0o600)


def test_unpack_members_and_an_empty_output_dir(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    code, out, _ = run(capsys, "unpack", MAAS, "-o", str(tmp_path / "out"), "--members")
    assert code == 0
    assert (tmp_path / "out" / "members" / "bin" / "curtin").exists()
    assert mode(tmp_path / "out" / "members" / "bin" / "curtin") == 0o755


def test_unpack_without_output_only_reports(tmp_path, capsys, monkeypatch):
    with open(MAAS, "rb") as handle:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(handle.read())))
    code, out, _ = run(capsys, "unpack", "-")
    assert code == 0 and json.loads(out)["output"] is None


def test_unpack_hides_secret_sets_in_the_summary_only(tmp_path, capsys):
    payload = write(tmp_path / "p", curtin_pack(command=[
        "curtin", "install", "--config=configs/config-000.cfg", "--set=reporting/maas/token_secret=S3",
        "--set", "install/log_file=/l", "src"]))
    code, out, _ = run(capsys, "unpack", payload, "-o", str(tmp_path / "o"))
    summary = json.loads(out)
    assert code == 0 and "S3" not in out
    assert summary["sets"] == ["reporting/maas/token_secret=<redacted>", "install/log_file=/l"]
    assert "--set=reporting/maas/token_secret=<redacted>" in summary["command"]
    assert "--set=reporting/maas/token_secret=S3" in json.loads((tmp_path / "o" / "command.json").read_text())
    assert "S3" not in (tmp_path / "o" / "merged.yaml").read_text()


DAMAGED = {
    "bad-md5": (curtin_pack(md5="0" * 32), 1, "archive MD5 mismatch: header says 00000000"),
    "truncated": (curtin_pack()[:-10], 1, "truncated"),
    "cloud-config": (b"#cloud-config\na: 1\n", 3, "user-data is a #cloud-config, not an install payload"),
    "script": (b"#!/bin/sh\necho hi\n", 3, "a script without an install payload"),
    "bad-yaml": (curtin_pack(configs=["a: [\n"]), 2, "configs/config-000.cfg: line 2: not valid YAML"),
    "escape": (curtin_pack(command=["curtin", "install", "--config=../x.cfg", "s"]), 1,
               "not inside the archive"),
}


@pytest.mark.parametrize("case", sorted(DAMAGED))
@pytest.mark.parametrize("existing", [False, True])
def test_unpack_refuses_damage_and_writes_nothing(tmp_path, capsys, case, existing):
    data, exit_code, message = DAMAGED[case]
    out_dir = tmp_path / "out"
    if existing:
        out_dir.mkdir()
    code, out, err = run(capsys, "unpack", write(tmp_path / "payload", data), "--output", str(out_dir))
    assert (code, out) == (exit_code, "")
    assert err.startswith("maaslike unpack: error: ") and message in err and err.count("\n") == 1
    assert sorted(os.listdir(tmp_path)) == (["out", "payload"] if existing else ["payload"])
    if existing:
        assert os.listdir(out_dir) == []


def test_unpack_refuses_a_full_output_dir_before_decoding(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine").write_text("x")
    code, _, err = run(capsys, "unpack", MAAS, "--output", str(tmp_path / "out"))
    assert code == 1 and "exists and is not empty" in err
    assert os.listdir(tmp_path / "out") == ["mine"]


def test_unpack_missing_file(tmp_path, capsys):
    code, _, err = run(capsys, "unpack", str(tmp_path / "nope"))
    assert code == 2 and "cannot read" in err and "No such file" in err


@pytest.mark.parametrize("header,md5", [("MD5SUM='" + "0" * 32 + "'", "mismatch"), ("", "missing")])
def test_unpack_ignore_md5(tmp_path, capsys, header, md5):
    data = curtin_pack(md5="0" * 32).replace(b"MD5SUM='" + b"0" * 32 + b"'", header.encode())
    payload = write(tmp_path / "p", data)
    code, out, _ = run(capsys, "unpack", payload, "--ignore-md5", "-o", str(tmp_path / "o"))
    assert code == 0 and json.loads(out)["md5"] == md5


# --- pack --------------------------------------------------------------------

def test_pack(tmp_path, capsys):
    one = write(tmp_path / "one.cfg", b"#cloud-config\nreporting: {maas: {token_secret: s}}\n")
    two = write(tmp_path / "two.cfg", b"b: 2\n")
    hook = write(tmp_path / "hook", b"#!/bin/sh\n")
    out = tmp_path / "sub" / "payload.sh"
    code, stdout, err = run(capsys, "pack", "--config", one, "-c", two,
                            "--add", f"curtin/curtin-hooks:{hook}", "--set", "install/log_file=/tmp/x",
                            "-o", str(out), "http://h/root.tgz")
    assert (code, err) == (0, "")
    assert json.loads(stdout)["output"] == str(out)
    assert mode(out) == 0o600
    payload = decode(out.read_bytes())
    assert [text for _, text in payload.configs] == [(tmp_path / "one.cfg").read_text(), "b: 2\n"]
    assert payload.sources == ("http://h/root.tgz",) and payload.sets == ("install/log_file=/tmp/x",)
    assert payload.members["curtin/curtin-hooks"] == b"#!/bin/sh\n"
    assert "bin/curtin" in payload.members


def test_pack_without_package_adds_in_curtins_order_and_still_reads_the_old_one(tmp_path, capsys):
    cfg = write(tmp_path / "c.cfg", b"a: 1\n")
    extra = write(tmp_path / "notes.txt", b"n")
    code, _, err = run(capsys, "pack", "-c", cfg, "-a", f"docs/notes:{extra}", "--no-package",
                       "-o", str(tmp_path / "p"))
    assert (code, err) == (0, "")
    assert decode((tmp_path / "p").read_bytes()).members == {"docs/notes": b"n"}
    code, _, err = run(capsys, "pack", "-c", cfg, "--add", f"{extra}:old/notes", "--no-package", "-o",
                       str(tmp_path / "q"))
    assert code == 0 and "FILE_PATH:ARCHIVE_PATH is the old order" in err
    assert decode((tmp_path / "q").read_bytes()).members == {"old/notes": b"n"}


def test_pack_writes_the_payload_to_standard_output_by_default(tmp_path, capsysbinary):
    cfg = write(tmp_path / "c.cfg", b"a: 1\n")
    assert main(["pack", "-c", cfg, "--no-package", "http://h/root.tgz"]) == 0
    out = capsysbinary.readouterr().out
    assert out.startswith(b"#!/bin/bash\n")
    assert decode(out).sources == ("http://h/root.tgz",)


@pytest.mark.parametrize("files,extra,problem", [
    ({"c.cfg": b"a: [\n"}, [], "c.cfg: line 2: not valid YAML"),
    ({"c.cfg": b"- 1\n"}, [], "expected a mapping, got list"),
    ({"c.cfg": b"a: \xff\n"}, [], "c.cfg is not UTF-8"),
    ({}, [], "cannot read"),
    ({"c.cfg": b"a: 1\n"}, ["--set", "k=json:{"], "invalid JSON"),
    ({"c.cfg": b"a: 1\n"}, ["--set", "novalue"], "expected KEY/PATH=VALUE"),
    ({"c.cfg": b"a: 1\n"}, ["--add", "x:/nonexistent/file"], "cannot pack /nonexistent/file"),
    ({"c.cfg": b"a: 1\n"}, ["--add", "nocolon"], "is not ARCHIVE_PATH:FILE_PATH"),
    ({"c.cfg": b"a: 1\n"}, ["-", ], "would read as an option"),
])
def test_pack_refuses_bad_input_and_writes_nothing(tmp_path, capsys, files, extra, problem):
    for name, data in files.items():
        write(tmp_path / name, data)
    code, out, err = run(capsys, "pack", "-c", str(tmp_path / "c.cfg"), "-o", str(tmp_path / "out"), *extra)
    assert code != 0 and out == ""
    assert err.startswith("maaslike pack: error: ") and problem in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()
