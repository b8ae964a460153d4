"""Decoding curtin pack payloads as MAAS serves them, in every wrapping."""

import base64
import gzip
import os
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest

from cloudinit_maaslike.payload import (
    KIND_CURTIN,
    NotAPayload,
    PayloadError,
    decode,
    looks_like_payload,
    merged_config,
)
from tests.fixtures.payload.curtin_format import CURTIN_MEMBERS, curtin_pack, split, tar_gz

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "fixtures", "payload")


def fixture(name):
    with open(os.path.join(FIXTURES, name), "rb") as handle:
        return handle.read()


MAAS_PAYLOAD = fixture("curtin-maas.sh")


def test_payload_made_by_gnu_tar_and_base64():
    """curtin-maas.sh was built by make-curtin-maas.sh with the real tools."""
    payload = decode(MAAS_PAYLOAD)
    assert [name for name, _ in payload.configs] == [f"configs/config-00{i}.cfg" for i in range(4)]
    for index, (_, text) in enumerate(payload.configs):
        assert text == fixture(f"maas-config-00{index}.cfg").decode()  # verbatim
    assert payload.sources == ("http://10.20.0.2:5248/images/ubuntu/amd64/ga-22.04/jammy/stable/squashfs",)
    assert payload.sets == ()
    assert payload.command[:3] == ("curtin", "--install-deps", "install")
    assert sorted(payload.members) == ["bin/curtin", "curtin/__init__.py", "curtin/commands/__init__.py",
                                       "helpers/common"]
    assert payload.modes["bin/curtin"] == 0o755
    assert payload.md5_ok and payload.md5 == payload.header["MD5SUM"]
    assert (payload.kind, payload.wrapping) == (KIND_CURTIN, "plain")
    assert list(payload.header) == ["MD5SUM", "PREFIX", "LABEL", "COMMAND", "PYPATH", "BINPATH",
                                    "CREATE_TIME", "PAYLOAD_MARKER"]


def test_maas_configs_merge_in_order_with_the_source():
    merged = merged_config(decode(MAAS_PAYLOAD))
    assert merged["sources"] == {"00_cmdline": decode(MAAS_PAYLOAD).sources[0]}
    assert merged["partitioning_commands"]["builtin"] == ["curtin", "block-meta", "custom"]
    assert merged["install"]["log_file"] == "/tmp/install.log"
    assert merged["install"]["save_install_log"] == "/root/curtin-install.log"  # builtin kept
    assert merged["reporting"]["maas"]["type"] == "webhook"
    assert merged["late_commands"]["maas"][0] == "wget"


@pytest.mark.parametrize("source", [
    "http://host/it's here",
    "cp:///media/root-ro",
    "dd-tgz:http://h/a b/$HOME/`id`/\"q\"/\\",
    "line\nbreak",
    "'",
    "--not-an-option-after-double-dash",
])
def test_quoting_edge_cases_in_command(source):
    command = ["curtin", "install", "--config=configs/config-000.cfg", "--", source]
    payload = decode(curtin_pack(command=command))
    assert payload.sources == (source,)
    assert payload.command == tuple(command)


def test_config_names_with_spaces_and_quotes():
    files = dict(CURTIN_MEMBERS)
    files["configs/it's a.cfg"] = b"a: 1\n"
    files["configs/b.cfg"] = b"b: 2\n"
    payload = decode(curtin_pack(files=files, command=[
        "curtin", "install", "-c", "./configs/it's a.cfg", "--set", "c=3", "--config", "configs//b.cfg",
        "src"]))
    assert [name for name, _ in payload.configs] == ["configs/it's a.cfg", "configs/b.cfg"]
    assert payload.sets == ("c=3",)
    assert "configs/it's a.cfg" not in payload.members
    merged = merged_config(payload)
    assert (merged["a"], merged["b"], merged["c"]) == (1, 2, "3")


def test_one_config_listed_twice_is_merged_twice():
    payload = decode(curtin_pack(command=[
        "curtin", "install", "--config=configs/config-000.cfg", "--config=configs/config-000.cfg", "s"]))
    assert [name for name, _ in payload.configs] == ["configs/config-000.cfg"] * 2


def test_members_without_dot_slash_prefix_are_read_too():
    files = {"configs/config-000.cfg": b"a: 1\n"}
    payload = decode(curtin_pack(files=files, archive=tar_gz(files, prefix="")))
    assert payload.configs == (("configs/config-000.cfg", "a: 1\n"),)


# --- wrappings ---------------------------------------------------------------

def mime(*parts):
    message = MIMEMultipart()
    for part in parts:
        message.attach(part)
    return message.as_bytes()


def shellscript(data, encoding=None):
    part = MIMEApplication(data, "x-shellscript") if encoding else MIMEText(data.decode(), "x-shellscript")
    part.replace_header("Content-Type", 'text/x-shellscript; charset="us-ascii"')
    return part


PAYLOAD = curtin_pack()


@pytest.mark.parametrize("data,wrapping", [
    (PAYLOAD, "plain"),
    (mime(shellscript(PAYLOAD)), "mime"),  # MAAS's ephemeral deploy user-data
    (mime(shellscript(PAYLOAD, encoding="base64")), "mime"),
    (mime(MIMEText("#cloud-config\na: 1\n", "cloud-config"), MIMEApplication(PAYLOAD)), "mime"),
    (mime(MIMEText("#!/bin/sh\necho hi\n", "x-shellscript"), shellscript(PAYLOAD)), "mime"),
    (base64.b64encode(PAYLOAD), "base64"),
    (base64.encodebytes(PAYLOAD), "base64"),
    (gzip.compress(PAYLOAD), "gzip"),
    (base64.b64encode(gzip.compress(PAYLOAD)), "base64+gzip"),
    (mime(MIMEApplication(gzip.compress(PAYLOAD), "gzip")), "mime+gzip"),
])
def test_wrappings(data, wrapping):
    assert looks_like_payload(data)
    payload = decode(data)
    assert payload.wrapping == wrapping
    assert payload.configs == (("configs/config-000.cfg", "showtrace: true\n"),)


def test_too_many_wrappings_are_not_a_payload():
    data = PAYLOAD
    for _ in range(6):
        data = base64.b64encode(data)
    with pytest.raises(NotAPayload, match="wrapped too many times"):
        decode(data)


def test_text_input_is_accepted():
    assert decode(PAYLOAD.decode()).configs == decode(PAYLOAD).configs


def test_crlf_line_ends_from_a_mime_transport():
    payload = decode(PAYLOAD.replace(b"\n", b"\r\n"))
    assert payload.command == decode(PAYLOAD).command and payload.md5_ok


def test_two_payload_parts_are_ambiguous():
    data = mime(shellscript(PAYLOAD), shellscript(PAYLOAD))
    with pytest.raises(PayloadError, match="holds 2 install payloads \\(parts 2, 3\\)"):
        decode(data)
    assert looks_like_payload(data)  # claimed, so cloud-init does not run either part


@pytest.mark.parametrize("data,message", [
    (b"", "user-data is empty"),
    (b"#cloud-config\npackages: [vim]\n", "is a #cloud-config"),
    (b"#!/bin/sh\necho hello\n", "a script without an install payload"),
    (b"#include\nhttp://x/\n", "is #include content"),
    (b"\x00\x01\x02binary", "bytes\\) is not an install payload"),
    (base64.b64encode(b"#cloud-config\na: 1\n"), "is a #cloud-config"),
    (gzip.compress(b"#cloud-config\na: 1\n"), "is a #cloud-config"),
    (gzip.compress(PAYLOAD)[:40], "does not decompress"),
    (b"QUJD*not base64 after all", "is not an install payload"),
    (b"QUJDR", "not an install payload"),  # too short to be base64 user-data
    (b"QUJDRUZHSEk", "looks like base64 but does not decode"),
    (mime(MIMEText("#cloud-config\na: 1\n", "cloud-config")), "no part holding an install payload"),
])
def test_not_a_payload(data, message):
    assert not looks_like_payload(data)
    with pytest.raises(NotAPayload, match=message):
        decode(data)


# --- damage ------------------------------------------------------------------

def test_wrong_md5_is_refused_with_both_sums():
    payload = curtin_pack(md5="0" * 32)
    with pytest.raises(PayloadError, match="MD5 mismatch: header says 0{32}, archive is [0-9a-f]{32}"):
        decode(payload)
    lenient = decode(payload, check_md5=False)
    assert not lenient.md5_ok and lenient.configs


def test_changed_archive_byte_is_an_md5_mismatch():
    script, body = split(PAYLOAD)
    flipped = body[:10] + (b"A" if body[10:11] != b"A" else b"B") + body[11:]
    with pytest.raises(PayloadError, match="MD5 mismatch"):
        decode(script + flipped)


def test_truncated_base64():
    script, body = split(PAYLOAD)
    with pytest.raises(PayloadError, match="truncated"):
        decode(script + body[:-7])
    with pytest.raises(PayloadError, match="MD5 mismatch"):
        decode(script + body[:76 + 1])  # whole lines: decodes, but is not the archive


def test_missing_md5sum():
    payload = PAYLOAD.replace(b"MD5SUM=", b"MD5SUMX=")
    with pytest.raises(PayloadError, match="header sets no MD5SUM"):
        decode(payload)
    assert not decode(payload, check_md5=False).md5_ok


@pytest.mark.parametrize("config,problem", [
    ("configs/missing.cfg", "--config configs/missing.cfg names no file in the archive"),
    ("/etc/cloud/cloud.cfg", "--config /etc/cloud/cloud.cfg is not inside the archive"),
    ("../outside.cfg", "--config ../outside.cfg is not inside the archive"),
    ("configs", "names no file"),  # a directory
])
def test_config_must_be_a_file_in_the_archive(config, problem):
    with pytest.raises(PayloadError, match=problem.replace(".", "\\.")):
        decode(curtin_pack(command=["curtin", "install", "--config=" + config, "src"]))


def test_config_must_be_utf8():
    files = {"configs/config-000.cfg": b"a: \xff\n"}
    with pytest.raises(PayloadError, match="config configs/config-000.cfg is not UTF-8 \\(byte 3\\)"):
        decode(curtin_pack(files=files))


def test_hostile_archive_behind_a_good_md5_is_refused():
    import tarfile

    evil = tarfile.TarInfo("../../etc/cron.d/evil")
    data = b"* * * * * root sh\n"
    evil.size = len(data)
    files = {"configs/config-000.cfg": b"a: 1\n"}
    with pytest.raises(PayloadError, match="climbs out"):
        decode(curtin_pack(files=files, archive=tar_gz(files, extra=[(evil, data)])))


def test_looks_like_payload_claims_damaged_payloads():
    assert looks_like_payload(curtin_pack(md5="0" * 32))
    assert looks_like_payload(b"#!/bin/bash\n_____PAYLOAD_____\n")
