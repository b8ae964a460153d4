"""Random and mutated payloads: the codec fails only with its own error type.

A node's user-data is untrusted input read on every boot; an unexpected
exception there would take down cloud-init's module instead of reporting
"damaged payload".  Mutations that keep the MD5 right (the archive and
header rewritten, the sum recomputed) reach the tar reader and the command
parser, which a plain bit flip would never get past.
"""

import base64
import gzip
import hashlib
import io
import re
import tarfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloudinit_maaslike.errors import MaaslikeError
from cloudinit_maaslike.payload import PayloadError, decode, looks_like_payload, merged_config, pack
from tests.fixtures.payload.curtin_format import curtin_pack, split

SMALL_OURS = pack(["a: 1\n", "b: [1, 2]\n"], ["http://h/x"], sets=["c=3"], include_package=False, created=0)
SMALL_CURTIN = curtin_pack(configs=["a: 1\n"])
SEEDS = [SMALL_OURS, SMALL_CURTIN]
KINDS = [tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE,
         tarfile.FIFOTYPE]
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(data):
    """The property: a Payload, or a PayloadError; nothing else escapes."""
    assert isinstance(looks_like_payload(data), bool)
    try:
        payload = decode(data)
    except PayloadError:
        return
    try:
        merged_config(payload)
    except MaaslikeError:  # a damaged config is a ConfigError naming it
        pass


@FAST
@given(st.binary(max_size=4096))
def test_random_bytes(data):
    check(data)


@FAST
@given(st.sampled_from([b"#!", b"#!/bin/bash\n", b"Content-Type: multipart/mixed\n\n", b"\x1f\x8b", b""]),
       st.binary(max_size=2048), st.booleans())
def test_random_bytes_behind_plausible_starts(start, rest, with_marker):
    check(start + rest + (b"\n_____PAYLOAD_____\n" + rest if with_marker else b""))


@st.composite
def mutated(draw):
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "move-marker", "dup-line"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[at:at + draw(st.integers(1, 16))]
        else:
            lines = bytes(data).split(b"\n")
            index = draw(st.integers(0, len(lines) - 1))
            if kind == "move-marker":
                lines = [line for line in lines if line != b"_____PAYLOAD_____"]
                lines.insert(min(index, len(lines)), b"_____PAYLOAD_____")
            else:
                lines.insert(index, lines[index])
            data = bytearray(b"\n".join(lines))
    wrap = draw(st.sampled_from(["plain", "base64", "gzip"]))
    if wrap == "base64":
        return base64.encodebytes(bytes(data))
    if wrap == "gzip":
        return gzip.compress(bytes(data))
    return bytes(data)


@FAST
@given(mutated())
def test_mutated_payloads(data):
    check(data)


def with_archive(script: bytes, archive: bytes) -> bytes:
    """`script` carrying `archive`, its MD5SUM fixed to match."""
    head, _ = split(script)
    head = re.sub(rb"MD5SUM='[^']*'", b"MD5SUM='" + hashlib.md5(archive).hexdigest().encode() + b"'", head)
    return head + base64.encodebytes(archive)


@st.composite
def archive_mutations(draw):
    script = draw(st.sampled_from(SEEDS))
    _, body = split(script)
    raw = bytearray(gzip.decompress(base64.b64decode(body)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(raw) - 1))
        if draw(st.booleans()):
            raw[at] = draw(st.integers(0, 255))
        else:
            raw[at:at + 8] = draw(st.binary(min_size=8, max_size=8))
    return with_archive(script, gzip.compress(bytes(raw)))


@FAST
@given(archive_mutations())
def test_mutated_archives_behind_a_correct_md5(data):
    check(data)


@st.composite
def hostile_members(draw):
    raw = io.BytesIO()
    names = st.text(alphabet="./ab\\\n\x00", min_size=1, max_size=12)
    with tarfile.open(fileobj=raw, mode="w", format=draw(st.sampled_from([tarfile.GNU_FORMAT,
                                                                          tarfile.PAX_FORMAT]))) as tar:
        for _ in range(draw(st.integers(1, 6))):
            info = tarfile.TarInfo(draw(names).replace("\x00", ""))
            info.type = draw(st.sampled_from(KINDS))
            info.linkname = draw(names).replace("\x00", "")
            data = b"a: 1\n" if info.type == tarfile.REGTYPE else b""
            info.size = len(data)
            try:
                tar.addfile(info, io.BytesIO(data))
            except (ValueError, tarfile.TarError):
                continue
    command = ["curtin", "install", "--config=" + draw(names).replace("\x00", ""), "src"]
    return with_archive(curtin_pack(command=command), gzip.compress(raw.getvalue()))


@FAST
@given(hostile_members())
def test_hostile_members_behind_a_correct_md5(data):
    check(data)


@FAST
@given(st.lists(st.text(max_size=12), max_size=6))
def test_random_commands_behind_a_correct_md5(words):
    check(curtin_pack(command=["curtin", *words]))
