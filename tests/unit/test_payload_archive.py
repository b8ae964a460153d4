"""The archive reader refuses anything that could write outside, or fill memory."""

import gzip
import io
import tarfile

import pytest

from cloudinit_maaslike.payload import PayloadError
from cloudinit_maaslike.payload.archive import gunzip, read_archive


def entry(name, kind=tarfile.REGTYPE, data=b"", link="", mode=0o644):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.linkname = link
    if kind in (tarfile.REGTYPE, tarfile.AREGTYPE):
        info.size = len(data)
    return info, data


def tgz(*entries, fmt=tarfile.GNU_FORMAT):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=fmt) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return gzip.compress(raw.getvalue())


def test_reads_files_dirs_modes_and_normalises_names():
    contents = read_archive(tgz(
        entry(".", tarfile.DIRTYPE),
        entry("./bin", tarfile.DIRTYPE),
        entry("./bin/curtin", data=b"#!/bin/sh\n", mode=0o4755),
        entry("configs//config-000.cfg", data=b"a: 1\n"),
        entry("./x/./y", data=b"y"),
    ))
    assert contents.files == {"bin/curtin": b"#!/bin/sh\n", "configs/config-000.cfg": b"a: 1\n", "x/y": b"y"}
    assert contents.modes["bin/curtin"] == 0o4755  # kept here; writers strip setuid
    assert contents.directories == {"bin"}


def test_symlinks_and_hardlinks_that_stay_inside_are_kept():
    contents = read_archive(tgz(
        entry("lib/real.py", data=b"x = 1\n"),
        entry("lib/alias.py", tarfile.SYMTYPE, link="real.py"),
        entry("top", tarfile.SYMTYPE, link="lib/../lib"),
        entry("copy.py", tarfile.LNKTYPE, link="./lib/real.py"),
    ))
    assert contents.symlinks == {"lib/alias.py": "real.py", "top": "lib/../lib"}
    assert contents.files["copy.py"] == b"x = 1\n"


@pytest.mark.parametrize("entries,problem", [
    ([entry("../evil", data=b"x")], "member ../evil climbs out with '..'"),
    ([entry("./a/../../evil", data=b"x")], "climbs out"),
    ([entry("/etc/passwd", data=b"x")], "member /etc/passwd has an absolute name"),
    ([entry("a\nb", data=b"x")], "control characters"),
    ([entry("dev/sda", tarfile.BLKTYPE)], "member dev/sda is a device node"),
    ([entry("dev/null", tarfile.CHRTYPE)], "member dev/null is a device node"),
    ([entry("pipe", tarfile.FIFOTYPE)], "member pipe is a fifo"),
    ([entry("link", tarfile.SYMTYPE, link="/etc/shadow")], "symlink link points outside the archive"),
    ([entry("a/link", tarfile.SYMTYPE, link="../../etc")], "symlink a/link points outside"),
    ([entry("link", tarfile.SYMTYPE, link="")], "empty target"),
    # lexically inside, but "up" is the archive root, so up/.. is its parent
    ([entry("up", tarfile.SYMTYPE, link="."), entry("esc", tarfile.SYMTYPE, link="up/..")],
     "symlink esc points outside"),
    ([entry("a", tarfile.SYMTYPE, link="b"), entry("b", tarfile.SYMTYPE, link="a")], "loops"),
    ([entry("a", tarfile.SYMTYPE, link="b"), entry("b", tarfile.SYMTYPE, link="/tmp")], "points outside"),
    ([entry("d", tarfile.SYMTYPE, link="sub"), entry("d/file", data=b"x")],
     "member d/file lies under the symlink d"),
    ([entry("f", data=b"x"), entry("f/g", data=b"y")], "member f/g lies under the file f"),
    ([entry("hard", tarfile.LNKTYPE, link="../../etc/shadow")],
     "hard link hard target ../../etc/shadow climbs"),
    ([entry("hard", tarfile.LNKTYPE, link="/etc/shadow")], "absolute name"),
    ([entry("hard", tarfile.LNKTYPE, link="later"), entry("later", data=b"x")], "not an earlier file"),
    ([entry("twice", data=b"a"), entry("twice", data=b"b")], "member twice appears twice"),
    ([entry(".", tarfile.REGTYPE, data=b"x")], "top entry '.' is not a directory"),
    ([entry("odd", b"V")], "tar type b'V'"),
])
def test_unsafe_members_are_refused(entries, problem):
    with pytest.raises(PayloadError, match=problem.replace("(", "\\(").replace(")", "\\)")):
        read_archive(tgz(*entries))


def test_duplicate_directories_are_fine():
    contents = read_archive(tgz(entry("d", tarfile.DIRTYPE), entry("d/", tarfile.DIRTYPE)))
    assert contents.directories == {"d"}


def test_gzip_bomb_is_stopped_at_the_limit():
    bomb = gzip.compress(b"\0" * (8 * 1024 * 1024))
    with pytest.raises(PayloadError, match="expands past 1 MiB"):
        gunzip(bomb, "the archive", limit=1024 * 1024)


def test_hard_links_count_against_the_limit_as_the_copies_they_become():
    links = [entry(f"link{i}", tarfile.LNKTYPE, link="big") for i in range(4)]
    data = tgz(entry("big", data=b"x" * 300_000), *links)
    assert len(read_archive(data, limit=1_500_000).files) == 5
    with pytest.raises(PayloadError, match="add up to more than 1 MiB"):
        read_archive(data, limit=1024 * 1024)


def test_member_count_is_bounded():
    data = tgz(*[entry(f"f{i}", data=b"") for i in range(11)])
    with pytest.raises(PayloadError, match="more than 10 members"):
        read_archive(data, max_members=10)


def test_gzip_damage_is_reported():
    good = tgz(entry("a", data=b"hello" * 100))
    with pytest.raises(PayloadError, match="the archive is truncated"):
        read_archive(good[: len(good) // 2])
    flipped = bytearray(good)
    flipped[-6] ^= 0xFF  # inside the CRC32 trailer
    with pytest.raises(PayloadError, match="the archive is damaged"):
        read_archive(bytes(flipped))
    with pytest.raises(PayloadError, match="stray bytes after the gzip data"):
        read_archive(good + b"junk")
    with pytest.raises(PayloadError, match="is not gzip data"):
        read_archive(b"PK\x03\x04 zip")


def test_zero_padding_and_concatenated_gzip_members_are_read():
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        info, data = entry("a", data=b"one")
        tar.addfile(info, io.BytesIO(data))
    blob = raw.getvalue()
    split = gzip.compress(blob[:700]) + gzip.compress(blob[700:]) + b"\0" * 8
    assert read_archive(split).files == {"a": b"one"}


def test_tar_damage_after_the_first_member_is_not_silently_ignored():
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name in ("a", "b"):
            info, data = entry(name, data=b"x" * 10)
            tar.addfile(info, io.BytesIO(data))
    blob = bytearray(raw.getvalue())
    blob[1024 + 148] ^= 0x55  # the second header's checksum field
    with pytest.raises(PayloadError, match="damaged or unreadable data after member 1"):
        read_archive(gzip.compress(bytes(blob)))


def test_not_a_tar():
    with pytest.raises(PayloadError, match="not a readable tar"):
        read_archive(gzip.compress(b"just some text, not a tar archive"))
