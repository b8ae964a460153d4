"""The extract stage against real archives, images and a loopback HTTP server.

Root only: preserving owners and device nodes, loop devices and mounts need it.
"""

from __future__ import annotations

import hashlib
import io
import lzma
import os
import stat
import subprocess
import tarfile

import pytest
import yaml

from .imageserver import ImageServer
from .recorder import Recorder

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (owners, device nodes, loop devices)"),
]

MiB = 1 << 20


def sh(*argv, **kwargs):
    return subprocess.run(list(argv), check=True, capture_output=True, text=True, **kwargs)


def make_root(path) -> None:
    """A small root with everything an extraction must keep."""
    os.makedirs(path / "etc")
    os.makedirs(path / "usr/bin")
    os.makedirs(path / "dev")
    (path / "etc/os-release").write_text("ID=test\n")
    (path / "usr/bin/tool").write_text("#!/bin/sh\n")
    os.chmod(path / "usr/bin/tool", 0o4755)
    os.link(path / "usr/bin/tool", path / "usr/bin/tool-link")
    os.symlink("/usr/bin/tool", path / "usr/bin/abs-symlink")
    os.symlink("tool", path / "usr/bin/rel-symlink")
    os.setxattr(path / "etc/os-release", "user.maaslike", b"kept")
    sh("setfacl", "-m", "u:4242:r", str(path / "etc/os-release"))
    os.mknod(path / "dev/null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    odd = path / "etc/odd"
    odd.write_text("odd owner\n")
    os.chown(odd, 12345, 54321)
    with open(path / "sparse", "wb") as handle:
        handle.seek(64 * MiB)
        handle.write(b"end")


def make_tarball(src, out, compress="gz") -> str:
    flags = {"gz": ["-z"], "zst": ["--zstd"], "xz": ["-J"], "bz2": ["-j"], "none": []}[compress]
    sh("tar", "--xattrs", "--xattrs-include=*", "--acls", "--numeric-owner", "-S", *flags,
       "-C", str(src), "-cf", str(out), ".")
    return sha256(out)


def sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(MiB), b""):
            digest.update(block)
    return digest.hexdigest()


@pytest.fixture
def images(tmp_path):
    root = tmp_path / "images"
    root.mkdir()
    server = ImageServer(str(root))
    yield root, server
    server.stop()


def install(maaslike_cmd, tmp_path, sources, extra=None, name="cfg.yaml", target=None):
    cfg = {
        "install": {"log_file": str(tmp_path / f"{name}.log"), "error_tarfile": None, "post_files": [],
                    "save_install_config": None, "save_install_log": None},
        "partitioning_commands": {"builtin": None}, "network_commands": {"builtin": None},
        "curthooks_commands": {"builtin": None}, "hook_commands": {"builtin": None},
        "sources": sources,
    }
    cfg.update(extra or {})
    path = tmp_path / name
    path.write_text(yaml.safe_dump(cfg))
    target = target or tmp_path / f"target-{name}"
    done = subprocess.run([*maaslike_cmd, "install", "-c", str(path), "-t", str(target)],
                          capture_output=True, text=True, timeout=600)
    return done, target


def assert_root_kept(target):
    tool = target / "usr/bin/tool"
    assert stat.S_IMODE(os.stat(tool).st_mode) == 0o4755
    assert os.stat(tool).st_ino == os.stat(target / "usr/bin/tool-link").st_ino
    assert os.readlink(target / "usr/bin/abs-symlink") == "/usr/bin/tool"
    assert os.readlink(target / "usr/bin/rel-symlink") == "tool"
    assert os.getxattr(target / "etc/os-release", "user.maaslike") == b"kept"
    assert "user:4242:r--" in sh("getfacl", "-n", str(target / "etc/os-release")).stdout
    null = os.stat(target / "dev/null")
    assert stat.S_ISCHR(null.st_mode) and os.major(null.st_rdev) == 1 and os.minor(null.st_rdev) == 3
    odd = os.stat(target / "etc/odd")
    assert (odd.st_uid, odd.st_gid) == (12345, 54321)
    sparse = os.stat(target / "sparse")
    assert sparse.st_size == 64 * MiB + 3 and sparse.st_blocks * 512 < MiB


@pytest.mark.parametrize("compress,prefix", [("gz", ""), ("zst", "tzst:"), ("xz", "tgz:"), ("bz2", "tbz:")])
def test_root_tarball_streams_in_with_everything_kept(tmp_path, images, maaslike_cmd, compress, prefix):
    root, server = images
    make_root(tmp_path / "src")
    make_tarball(tmp_path / "src", root / f"root.tar.{compress}", compress)
    done, target = install(maaslike_cmd, tmp_path, [prefix + server.url(f"root.tar.{compress}")])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert_root_kept(target)
    assert "done in" in (tmp_path / "cfg.yaml.log").read_text()


def test_a_dropped_connection_is_resumed_and_verified(tmp_path, images, maaslike_cmd):
    root, server = images
    make_root(tmp_path / "src")
    (tmp_path / "src/big").write_bytes(os.urandom(6 * MiB))  # incompressible: the drop is mid-stream
    digest = make_tarball(tmp_path / "src", root / "root.tgz")
    server.drops["root.tgz"] = [2 * MiB, 3 * MiB]
    done, target = install(maaslike_cmd, tmp_path, {"00": {"type": "tgz", "uri": server.url("root.tgz"),
                                                             "sha256": digest}})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    ranges = [r["range"] for r in server.requests if r["path"] == "/root.tgz"]
    assert ranges == [None, f"bytes={2 * MiB}-", f"bytes={5 * MiB}-"]
    assert "resuming" in done.stdout
    assert_root_kept(target)


def test_a_wrong_sha256_fails_the_stage(tmp_path, images, maaslike_cmd):
    root, server = images
    make_root(tmp_path / "src")
    make_tarball(tmp_path / "src", root / "root.tgz")
    done, _ = install(maaslike_cmd, tmp_path, [{"type": "tgz", "uri": server.url("root.tgz"),
                                                "sha256": "0" * 64}])
    assert done.returncode == 3
    assert "sha256 mismatch: expected " + "0" * 64 in done.stderr and "stage extract" in done.stderr


def test_sha256sums_next_to_the_image_is_checked(tmp_path, images, maaslike_cmd):
    root, server = images
    make_root(tmp_path / "src")
    digest = make_tarball(tmp_path / "src", root / "root.tgz")
    (root / "SHA256SUMS").write_text(f"{'f' * 64}  root.tgz\n")
    done, _ = install(maaslike_cmd, tmp_path, [server.url("root.tgz")])
    assert done.returncode == 3 and "sha256 mismatch" in done.stderr
    (root / "SHA256SUMS").write_text(f"{digest} *root.tgz\n")
    done, _ = install(maaslike_cmd, tmp_path, [server.url("root.tgz")], name="ok.yaml")
    assert done.returncode == 0, done.stderr


def hostile(kind: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        def add(name, data=b"x", **attrs):
            info = tarfile.TarInfo(name)
            for key, value in attrs.items():
                setattr(info, key, value)
            info.size = len(data) if info.type == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)
        add("ok")
        if kind == "dotdot":
            add("../escaped")
        elif kind == "absolute":
            add("/tmp/maaslike-escaped-abs")
        elif kind == "symlink":
            add("link", type=tarfile.SYMTYPE, linkname="/tmp")
            add("link/maaslike-escaped-symlink")
        elif kind == "hardlink":
            add("hl", type=tarfile.LNKTYPE, linkname="../outside")
    return buffer.getvalue()


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink", "hardlink"])
def test_hostile_tarballs_are_refused(tmp_path, images, maaslike_cmd, kind):
    root, server = images
    (root / "evil.tgz").write_bytes(hostile(kind))
    done, target = install(maaslike_cmd, tmp_path, [server.url("evil.tgz")])
    assert done.returncode == 3
    assert "tar member" in done.stderr
    assert not (tmp_path / "escaped").exists()
    assert not os.path.exists("/tmp/maaslike-escaped-abs")
    assert not os.path.exists("/tmp/maaslike-escaped-symlink")


def make_disk_image(tmp_path, size=64 * MiB) -> str:
    """A raw disk image: gpt, one ext4 partition holding a small root."""
    image = tmp_path / "disk.raw"
    with open(image, "wb") as handle:
        handle.truncate(size)
    sh("sfdisk", "-q", str(image), input="label: gpt\n,,L\n")
    loop = sh("losetup", "--find", "--show", "--partscan", str(image)).stdout.strip()
    try:
        sh("partx", "-u", loop)
        sh("mkfs.ext4", "-q", "-L", "imgroot", f"{loop}p1")
        mnt = tmp_path / "mnt"
        mnt.mkdir()
        sh("mount", f"{loop}p1", str(mnt))
        (mnt / "etc").mkdir()
        (mnt / "usr").mkdir()
        (mnt / "etc/hostname").write_text("from-the-image\n")
        sh("umount", str(mnt))
    finally:
        sh("partx", "-d", loop)
        sh("losetup", "-d", loop)
    return str(image)


@pytest.fixture
def disk(tmp_path):
    backing = tmp_path / "target-disk.img"
    with open(backing, "wb") as handle:
        handle.truncate(128 * MiB)
    dev = sh("losetup", "--find", "--show", str(backing)).stdout.strip()
    yield dev, backing
    subprocess.run(["umount", "-R", str(tmp_path / "target-cfg.yaml")], capture_output=True)
    subprocess.run(["partx", "-d", dev], capture_output=True)
    subprocess.run(["losetup", "-d", dev], capture_output=True)


def test_dd_image_streams_onto_the_disk_and_its_root_is_mounted(tmp_path, images, disk, maaslike_cmd):
    root, server = images
    dev, backing = disk
    raw = make_disk_image(tmp_path)
    with open(raw, "rb") as src, lzma.open(root / "disk.raw.xz", "wb", preset=0) as out:
        out.write(src.read())
    check = f"cat $TARGET_MOUNT_POINT/etc/hostname > {tmp_path}/seen"
    done, _ = install(maaslike_cmd, tmp_path, [f"dd-xz:{server.url('disk.raw.xz')}"],
                      {"block-meta": {"devices": [dev]}, "late_commands": {"see": check}})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert (tmp_path / "seen").read_text() == "from-the-image\n"
    # the partition table and the end of the image are byte for byte the image's
    # (the filesystem itself changed when it was mounted for the later stages)
    size = os.path.getsize(raw)
    with open(raw, "rb") as a, open(backing, "rb") as b:
        assert a.read(MiB) == b.read(MiB)
        a.seek(size - MiB)
        b.seek(size - MiB)
        assert a.read(MiB) == b.read(MiB)


def test_dd_image_whose_download_fails_half_way_fails_the_stage(tmp_path, images, disk, maaslike_cmd):
    root, server = images
    dev, _ = disk
    (root / "disk.raw").write_bytes(os.urandom(8 * MiB))
    server.drops["disk.raw"] = [MiB] * 10  # every attempt breaks: resumes run out
    done, _ = install(maaslike_cmd, tmp_path, [f"dd-raw:{server.url('disk.raw')}"],
                      {"block-meta": {"devices": [dev]}})
    assert done.returncode == 3
    assert "gave up after 5 resumes" in done.stderr


def test_dd_image_with_damaged_compression_fails_the_stage(tmp_path, images, disk, maaslike_cmd):
    root, server = images
    dev, _ = disk
    data = lzma.compress(os.urandom(2 * MiB), preset=0)
    (root / "broken.xz").write_bytes(data[: len(data) // 2])
    done, _ = install(maaslike_cmd, tmp_path, [f"dd-xz:{server.url('broken.xz')}"],
                      {"block-meta": {"devices": [dev]}})
    assert done.returncode == 3 and "xz data is damaged" in done.stderr


def test_dd_image_larger_than_the_disk_is_refused(tmp_path, images, disk, maaslike_cmd):
    root, server = images
    dev, _ = disk
    with open(root / "huge.raw", "wb") as handle:
        handle.truncate(200 * MiB)
    done, _ = install(maaslike_cmd, tmp_path, [f"dd-raw:{server.url('huge.raw')}"],
                      {"block-meta": {"devices": [dev]}})
    assert done.returncode == 3 and "larger than" in done.stderr


@pytest.mark.parametrize("over_http", [False, True])
def test_squashfs_image_is_mounted_and_copied(tmp_path, images, maaslike_cmd, over_http):
    root, server = images
    make_root(tmp_path / "src")
    sh("mksquashfs", str(tmp_path / "src"), str(root / "root.squashfs"), "-quiet", "-noappend",
       "-comp", "gzip")
    uri = server.url("root.squashfs") if over_http else f"file://{root}/root.squashfs"
    done, target = install(maaslike_cmd, tmp_path, [f"fsimage:{uri}"])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert (target / "etc/os-release").read_text() == "ID=test\n"
    assert os.stat(target / "usr/bin/tool").st_ino == os.stat(target / "usr/bin/tool-link").st_ino
    assert not [n for n in os.listdir(target) if n.startswith(".maaslike")]


def test_cp_source_copies_a_directory(tmp_path, maaslike_cmd):
    make_root(tmp_path / "src")
    done, target = install(maaslike_cmd, tmp_path, [f"cp://{tmp_path / 'src'}"])
    assert done.returncode == 0, done.stderr
    assert_root_kept(target)


def test_progress_is_reported_as_events(tmp_path, images, maaslike_cmd):
    root, server = images
    make_root(tmp_path / "src")
    make_tarball(tmp_path / "src", root / "root.tgz")
    recorder = Recorder()
    try:
        done, _ = install(maaslike_cmd, tmp_path, [server.url("root.tgz")],
                          {"reporting": {"r": {"type": "webhook", "endpoint": recorder.url + "/s"}}})
        assert done.returncode == 0, done.stderr
    finally:
        recorder.stop()
    progress = [e for e in recorder.events() if e["name"].endswith("/progress")]
    assert progress and progress[-1]["name"] == "cmd-install/stage-extract/builtin/progress"
    assert "MiB/s" in progress[-1]["description"] and "done in" in progress[-1]["description"]
