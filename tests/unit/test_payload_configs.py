"""Configs parsed and merged in curtin's order; writing members leaves no trace on failure."""

import os
import stat
from types import MappingProxyType

import pytest

from cloudinit_maaslike.errors import ConfigError
from cloudinit_maaslike.payload import (
    OutputError,
    Payload,
    PayloadError,
    decode,
    loaded_configs,
    merged_config,
    write_members,
)
from tests.fixtures.payload.curtin_format import CURTIN_MEMBERS, curtin_pack


def payload_with(configs, command):
    files = dict(CURTIN_MEMBERS)
    files.update({name: text.encode() for name, text in configs.items()})
    return decode(curtin_pack(files=files, command=["curtin", *command]))


def test_yaml_error_names_member_and_line_but_not_the_text():
    payload = payload_with({"configs/c.cfg": "a: 1\nreporting:\n  token_secret: abc: def\n"},
                           ["install", "--config=configs/c.cfg", "s"])
    with pytest.raises(ConfigError) as caught:
        loaded_configs(payload)
    message = str(caught.value)
    assert message.startswith("configs/c.cfg: line 3: not valid YAML: mapping values are not allowed")
    assert "abc" not in message


def test_config_must_be_a_mapping_and_may_be_empty():
    payload = payload_with({"configs/list.cfg": "- a\n", "configs/empty.cfg": "# nothing\n"},
                           ["install", "-c", "configs/empty.cfg", "-c", "configs/list.cfg", "s"])
    with pytest.raises(ConfigError, match="configs/list.cfg: \\(document\\): expected a mapping, got list"):
        loaded_configs(payload)
    first_only = payload_with({"configs/empty.cfg": ""}, ["install", "-c", "configs/empty.cfg", "s"])
    assert loaded_configs(first_only) == [{}]


def test_sets_and_configs_merge_interleaved_like_curtin():
    configs = {"configs/one.cfg": "a: from-one\nb: from-one\n", "configs/two.cfg": "b: from-two\n"}
    payload = payload_with(configs, ["--set", "a=main-set", "install", "-c", "configs/one.cfg",
                                     "--set", "b=set-between", "--set", "c=set-between",
                                     "-c", "configs/two.cfg", "http://src"])
    merged = merged_config(payload)
    assert merged["a"] == "from-one"  # the config after the --set wins
    assert merged["b"] == "from-two"
    assert merged["c"] == "set-between"
    assert merged["sources"] == {"00_cmdline": "http://src"}


def test_a_bad_set_is_a_config_error():
    payload = payload_with({}, ["install", "--set", "a=json:{", "s"])
    with pytest.raises(ConfigError, match="invalid JSON"):
        merged_config(payload)


def test_hand_built_payload_merges_configs_then_sets():
    payload = Payload(configs=(("c.cfg", "a: 1\n"),), command=(), sources=("s",), sets=("a=2",),
                      members={}, md5_ok=True, kind="curtin-pack", wrapping="plain", header={})
    assert merged_config(payload)["a"] == "2"


# --- writing members ---------------------------------------------------------

def fake_payload(members, modes=None, symlinks=None):
    return Payload(configs=(), command=(), sources=(), sets=(), members=MappingProxyType(members),
                   md5_ok=True, kind="curtin-pack", wrapping="plain", header={},
                   modes=MappingProxyType(modes or {}), symlinks=MappingProxyType(symlinks or {}))


def test_write_members(tmp_path):
    payload = decode(curtin_pack())
    dest = tmp_path / "payload"
    write_members(payload, str(dest))
    assert sorted(os.listdir(dest)) == ["bin", "curtin", "helpers"]  # configs are not members
    assert (dest / "curtin" / "__init__.py").read_bytes() == CURTIN_MEMBERS["curtin/__init__.py"]
    assert stat.S_IMODE(os.stat(dest / "bin" / "curtin").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o700


def test_write_members_strips_setuid_and_writes_symlinks(tmp_path):
    payload = fake_payload({"bin/tool": b"x", "lib/a.py": b"a"}, {"bin/tool": 0o4777},
                           {"lib/b.py": "a.py"})
    write_members(payload, str(tmp_path / "d"))
    assert stat.S_IMODE(os.stat(tmp_path / "d" / "bin" / "tool").st_mode) == 0o755
    assert os.readlink(tmp_path / "d" / "lib" / "b.py") == "a.py"
    assert stat.S_IMODE(os.stat(tmp_path / "d" / "lib" / "a.py").st_mode) == 0o644


def test_an_empty_destination_directory_is_filled(tmp_path):
    (tmp_path / "d").mkdir()
    write_members(fake_payload({"f": b"1"}), str(tmp_path / "d"))
    assert (tmp_path / "d" / "f").read_bytes() == b"1"


def test_a_full_destination_is_left_alone(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "keep").write_text("mine")
    with pytest.raises(OutputError, match="exists and is not empty"):
        write_members(fake_payload({"f": b"1"}), str(tmp_path / "d"))
    assert os.listdir(tmp_path / "d") == ["keep"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="exists and is not a directory"):
        write_members(fake_payload({"f": b"1"}), str(tmp_path / "file"))


def test_failure_half_way_leaves_nothing(tmp_path):
    payload = fake_payload({"good": b"1", "../bad": b"2"})
    with pytest.raises(PayloadError, match="climbs out"):
        write_members(payload, str(tmp_path / "d"))
    assert os.listdir(tmp_path) == []


def test_a_member_naming_no_file_is_refused(tmp_path):
    with pytest.raises(OutputError, match="cannot write './': not a file name"):
        write_members(fake_payload({"./": b"1"}), str(tmp_path / "d"))
    assert os.listdir(tmp_path) == []


def test_unreadable_destination(tmp_path, monkeypatch):
    (tmp_path / "d").mkdir()

    def refuse(path):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "listdir", refuse)
    with pytest.raises(OutputError, match="cannot read .*/d: Permission denied"):
        write_members(fake_payload({"f": b"1"}), str(tmp_path / "d"))


def test_unwritable_parent(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="cannot create a directory in"):
        write_members(fake_payload({"f": b"1"}), str(tmp_path / "file" / "sub" / "d"))


def test_os_errors_while_writing_are_output_errors(tmp_path):
    payload = fake_payload({"a": b"1", "a/b": b"2"})  # a file cannot also be a directory
    with pytest.raises(OutputError, match="cannot write"):
        write_members(payload, str(tmp_path / "d"))
    assert os.listdir(tmp_path) == []
