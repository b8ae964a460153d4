import io
import tarfile

import pytest

from cloudinit_maaslike.config.problems import Problems
from cloudinit_maaslike.sources.progress import Progress
from cloudinit_maaslike.sources.spec import parse_sources
from cloudinit_maaslike.sources.targuard import HostileArchive, TarGuard


def archive(members, fmt=tarfile.GNU_FORMAT) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as tar:
        for name, kind, data, link in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = link
            info.size = len(data) if kind == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(data) if kind == tarfile.REGTYPE else None)
    return buffer.getvalue()


def feed_in_pieces(data: bytes, size: int) -> TarGuard:
    guard = TarGuard()
    for i in range(0, len(data), size):
        guard.feed(data[i:i + size])
    return guard


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT])
@pytest.mark.parametrize("piece", [1, 511, 512, 4096, 1 << 20])
def test_good_archives_pass_whatever_the_chunking(fmt, piece):
    long_name = "d/" + "x" * 150 + "/file"
    data = archive([("./etc/", tarfile.DIRTYPE, b"", ""), ("./etc/a", tarfile.REGTYPE, b"hi" * 700, ""),
                    ("./etc/ln", tarfile.LNKTYPE, b"", "./etc/a"),
                    ("./etc/abs", tarfile.SYMTYPE, b"", "/usr/bin/python3"),
                    (long_name if fmt != tarfile.USTAR_FORMAT else "d/short", tarfile.REGTYPE, b"z", "")], fmt)
    guard = feed_in_pieces(data, piece)
    assert guard.members == 5 and guard.ended


@pytest.mark.parametrize("members,why", [
    ([("../x", tarfile.REGTYPE, b"1", "")], "contains '..'"),
    ([("/etc/x", tarfile.REGTYPE, b"1", "")], "absolute path"),
    ([("a/../../x", tarfile.REGTYPE, b"1", "")], "contains '..'"),
    ([("l", tarfile.SYMTYPE, b"", "/etc"), ("l/passwd", tarfile.REGTYPE, b"1", "")], "goes through the symlink"),
    ([("h", tarfile.LNKTYPE, b"", "../../etc/passwd")], "hard link target"),
    ([("l", tarfile.SYMTYPE, b"", "/"), ("h", tarfile.LNKTYPE, b"", "l/etc/shadow")], "goes through a symlink"),
])
def test_hostile_members_are_refused(members, why):
    with pytest.raises(HostileArchive, match=why):
        feed_in_pieces(archive(members, tarfile.PAX_FORMAT), 700)


def test_a_damaged_header_is_refused():
    data = bytearray(archive([("a", tarfile.REGTYPE, b"x", "")]))
    data[10] ^= 0xFF
    with pytest.raises(HostileArchive, match="bad checksum"):
        TarGuard().feed(bytes(data))


def test_replacing_a_symlink_with_a_directory_is_fine():
    data = archive([("l", tarfile.SYMTYPE, b"", "/tmp"), ("l", tarfile.DIRTYPE, b"", ""),
                    ("l/f", tarfile.REGTYPE, b"x", "")])
    assert feed_in_pieces(data, 512).members == 3


def test_progress_lines():
    now = [0.0]
    lines = []
    progress = Progress("extract 00", 100 << 20, lines.append, interval=2, clock=lambda: now[0])
    now[0] = 1.0
    progress.add(10 << 20)
    assert lines == []
    now[0] = 2.0
    progress.add(10 << 20)
    assert lines == ["extract 00: 20.0 MiB of 100.0 MiB (20%), 10.0 MiB/s, ETA 8 s"]
    now[0] = 10.0
    progress.done = 100 << 20
    progress.finish()
    assert lines[-1].startswith("extract 00: 100.0 MiB of 100.0 MiB (100%)") and "done in 10.0 s" in lines[-1]


def test_source_forms():
    problems = Problems()
    found = parse_sources({"20": "dd-zst:http://x/disk.zst", "10": "cp:///media/root-ro"}, problems)
    assert problems.errors and "a dd image fills the whole disk" in str(problems.errors[0])
    problems = Problems()
    found = parse_sources(["http://x/root.tgz", "tzst:http://x/r.tar.zst", "http://x/fs.squashfs",
                           "squashfs:///srv/fs.squashfs", {"type": "txz", "uri": "file:///r.txz",
                                                           "sha256": "A" * 64}], problems)
    assert not problems.errors
    assert [(s.kind, s.uri) for s in found] == [
        ("tgz", "http://x/root.tgz"), ("tzst", "http://x/r.tar.zst"), ("fsimage", "http://x/fs.squashfs"),
        ("fsimage", "file:///srv/fs.squashfs"), ("txz", "file:///r.txz")]
    assert found[-1].sha256 == "a" * 64
    problems = Problems()
    parse_sources([{"type": "nope", "uri": "x"}, {"type": "tgz", "uri": "ftp://x"}, 5], problems)
    assert [p.path for p in problems.errors] == ["sources.0.type", "sources.1", "sources.2"]


@pytest.mark.allow_subprocess
@pytest.mark.parametrize("fmt", ["gnu", "posix"])
def test_gnu_tar_sparse_files_with_long_maps(tmp_path, fmt):
    """Many holes: old GNU sparse maps spill into extension headers before the data."""
    import subprocess

    src = tmp_path / "src"
    src.mkdir()
    with open(src / "holes", "wb") as handle:
        for i in range(12):
            handle.seek(i * (1 << 20))
            handle.write(b"data %d" % i)
    (src / "after").write_text("after the sparse file\n")
    out = tmp_path / "a.tar"
    subprocess.run(["tar", f"--format={fmt}", "-S", "-C", str(src), "-cf", str(out), "holes", "after"],
                   check=True)
    data = out.read_bytes()
    for piece in (512, 3000, 1 << 20):
        guard = feed_in_pieces(data, piece)
        assert guard.members == 2 and guard.ended


def _through_pipes(data: bytes, out=None):
    """Run splice_through between two real pipes; returns what came out and the guard."""
    import os
    import threading

    from cloudinit_maaslike.sources.pipeline import widen_pipe
    from cloudinit_maaslike.sources.tarball import splice_through

    src_r, src_w = os.pipe()
    dst_r, dst_w = os.pipe()
    widen_pipe(src_w)
    out = [] if out is None else out

    def write_all():
        view = memoryview(data)
        while view:
            view = view[os.write(src_w, view):]
        os.close(src_w)

    def read_all():
        while True:
            chunk = os.read(dst_r, 1 << 20)
            if not chunk:
                break
            out.append(chunk)

    writer = threading.Thread(target=write_all)
    reader = threading.Thread(target=read_all)
    writer.start()
    reader.start()
    guard = TarGuard()
    try:
        splice_through(src_r, dst_w, guard)
    finally:
        os.close(dst_w)
        writer.join()
        reader.join()
        os.close(src_r)
        os.close(dst_r)
    return b"".join(out), guard


def test_splice_passes_small_and_large_members_and_drops_the_padding():
    big = bytes(range(256)) * 4096  # 1 MiB: spliced
    data = archive([("a", tarfile.REGTYPE, b"small", ""), ("big", tarfile.REGTYPE, big, ""),
                    ("c", tarfile.REGTYPE, b"after" * 100, "")])
    out, guard = _through_pipes(data + b"\0" * 8192)
    assert guard.members == 3 and guard.ended
    # tar sees the archive up to its end-of-archive blocks, byte for byte
    assert data.startswith(out) and len(out) >= len(data) - 10240 + 1024
    with tarfile.open(fileobj=io.BytesIO(out + b"\0" * 1024)) as tar:
        assert tar.extractfile("big").read() == big


def test_splice_never_forwards_a_refused_header():
    good = archive([("a", tarfile.REGTYPE, b"ok", "")])[:1024]  # one member, no end blocks
    hostile = archive([("../evil", tarfile.REGTYPE, b"x", "")])
    out: list = []
    with pytest.raises(HostileArchive):
        _through_pipes(good + hostile, out)
    assert b"evil" not in b"".join(out)
