"""Refusals before the first write, on real loop devices: in use, missing tools, preserved content.

Each test sets a disk up the way an operator's machine could be, runs a real
`maaslike install` (or `--dry-run`) at it, and checks that the install stops
at planning with the reason in one line and that not one byte of any disk
changed.  Root only (loop devices, mounts); every loop device and mount a
test makes is removed at the end, in reverse order.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time

import pytest
import yaml

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (loop devices, mounts)"),
]

MiB = 1 << 20


def sh(*argv, check=True):
    return subprocess.run(list(argv), capture_output=True, text=True, check=check)


class Machine:
    """Loop devices, partitions and mounts made for one test, undone in reverse order."""

    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.undo = []

    def image(self, name, size=256 * MiB):
        path = self.tmp / name
        with open(path, "wb") as handle:
            handle.truncate(size)
        return str(path)

    def loop(self, backing):
        dev = sh("losetup", "--find", "--show", backing).stdout.strip()
        self.undo.append(("losetup", "-d", dev))
        self.undo.append(("partx", "-d", dev))  # an install that went ahead added some
        return dev

    def disk(self, name, size=256 * MiB):
        return self.loop(self.image(name, size))

    def partitions(self, dev, script):
        subprocess.run(["sfdisk", "-q", dev], input=script, text=True, check=True, capture_output=True)
        sh("partx", "-a", dev)
        for _ in range(100):
            if os.path.exists(f"{dev}p1"):
                break
            time.sleep(0.02)

    def mount(self, dev, *options):
        point = self.tmp / f"mnt-{os.path.basename(dev)}"
        point.mkdir()
        sh("mount", *options, dev, str(point))
        self.undo.append(("umount", str(point)))
        return str(point)

    def cleanup(self):
        for argv in reversed(self.undo):
            sh(*argv, check=False)


@pytest.fixture
def machine(tmp_path):
    made = Machine(tmp_path)
    yield made
    made.cleanup()


def digest(*devices):
    """The bytes of each device, read through the device itself."""
    out = []
    for dev in devices:
        sha = hashlib.sha256()
        with open(dev, "rb") as handle:
            for block in iter(lambda: handle.read(8 * MiB), b""):
                sha.update(block)
        out.append(sha.hexdigest())
    return out


def install(maaslike_cmd, tmp_path, storage, *extra, env=None, block_meta=None):
    config = {
        "install": {"log_file": str(tmp_path / "install.log"), "error_tarfile": None, "post_files": [],
                    "save_install_config": None, "save_install_log": None},
        "network_commands": {"builtin": None}, "extract_commands": {"builtin": None},
        "curthooks_commands": {"builtin": None}, "hook_commands": {"builtin": None},
    }
    if storage is not None:
        config["storage"] = storage
    if block_meta is not None:
        config["block-meta"] = block_meta  # simple mode
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(config))
    target = [] if "--dry-run" in extra else ["-t", str(tmp_path / "target")]
    return subprocess.run([*maaslike_cmd, "install", "-c", str(path), *target, *extra],
                          capture_output=True, text=True, timeout=300, env=env)


def one_disk(dev, fstype="ext4", wipe="superblock"):
    disk = {"id": "d", "type": "disk", "path": dev, "ptable": "gpt"}
    if wipe:
        disk["wipe"] = wipe
    return {"version": 1, "config": [
        disk,
        {"id": "p1", "type": "partition", "device": "d", "number": 1, "size": "100M"},
        {"id": "f1", "type": "format", "volume": "p1", "fstype": fstype},
        {"id": "m1", "type": "mount", "device": "f1", "path": "/"},
    ]}


def refused(maaslike_cmd, tmp_path, storage, *watched, env=None, block_meta=None):
    """Run the install; it must fail and leave every watched device as it was. Returns its last line."""
    before = digest(*watched)
    done = install(maaslike_cmd, tmp_path, storage, env=env, block_meta=block_meta)
    assert done.returncode != 0, "the install went ahead:\n" + done.stderr[-3000:]
    assert digest(*watched) == before, "a disk was written before the install stopped:\n" + done.stderr[-3000:]
    return done.stderr.strip().splitlines()[-1]


# -- in use --------------------------------------------------------------------------------------

def test_refuses_a_disk_behind_a_mounted_loop_device(tmp_path, machine, maaslike_cmd):
    """loopB's backing file is the block device loopA: no holders, and O_EXCL on loopA succeeds."""
    disk = machine.disk("a.img")
    upper = machine.loop(disk)
    sh("mkfs.ext4", "-q", upper)
    point = machine.mount(upper, "-o", "ro")
    line = refused(maaslike_cmd, tmp_path, one_disk(disk), disk)
    assert f"storage.config[0] (id: d): {disk} is in use: it backs {upper}, mounted on {point}" in line


def test_refuses_a_disk_two_loop_devices_down(tmp_path, machine, maaslike_cmd):
    disk = machine.disk("a.img")
    middle = machine.loop(disk)
    top = machine.loop(middle)
    sh("mkfs.ext4", "-q", top)
    point = machine.mount(top, "-o", "ro")
    line = refused(maaslike_cmd, tmp_path, one_disk(disk), disk)
    assert f"{disk} is in use: it backs {middle}, which backs {top}, mounted on {point}" in line


def test_refuses_a_disk_whose_partition_backs_a_mounted_loop_device(tmp_path, machine, maaslike_cmd):
    disk = machine.disk("a.img")
    machine.partitions(disk, "label: gpt\nstart=2048, size=204800\n")
    upper = machine.loop(f"{disk}p1")
    sh("mkfs.ext4", "-q", upper)
    point = machine.mount(upper, "-o", "ro")
    line = refused(maaslike_cmd, tmp_path, one_disk(disk), disk)
    assert f"{disk} is in use: its partition {disk}p1 backs {upper}, mounted on {point}" in line


def test_simple_mode_refuses_a_listed_disk_in_use(tmp_path, machine, maaslike_cmd):
    disk = machine.disk("a.img", size=1024 * MiB)
    upper = machine.loop(disk)
    sh("mkfs.ext4", "-q", upper)
    point = machine.mount(upper, "-o", "ro")
    line = refused(maaslike_cmd, tmp_path, None, disk, block_meta={"devices": [disk]})
    assert f"block-meta.devices: {disk} is in use: it backs {upper}, mounted on {point}" in line


def test_refuses_a_read_only_btrfs(tmp_path, machine, maaslike_cmd):
    """btrfs shows an anonymous device number (0:NN) in mountinfo; no wipe, so sfdisk would write first."""
    disk = machine.disk("a.img")
    sh("mkfs.btrfs", "-q", "-f", disk)
    point = machine.mount(disk, "-o", "ro")
    line = refused(maaslike_cmd, tmp_path, one_disk(disk, wipe=None), disk)
    assert f"storage.config[0] (id: d): {disk} is in use: it is mounted on {point}" in line


def test_refuses_the_other_member_of_a_mounted_btrfs(tmp_path, machine, maaslike_cmd):
    """Only /sys/fs/btrfs/<fsid>/devices names the second device of a two-device btrfs."""
    first, second = machine.disk("a.img"), machine.disk("b.img")
    sh("mkfs.btrfs", "-q", "-f", "-d", "single", "-m", "single", first, second)
    sh("btrfs", "device", "scan", first, second, check=False)
    point = machine.mount(first, "-o", "ro")
    fsid = sh("blkid", "-p", "-o", "value", "-s", "UUID", second).stdout.strip()
    line = refused(maaslike_cmd, tmp_path, one_disk(second, wipe=None), second)
    assert f"{second} is in use: it is part of btrfs {fsid}, mounted on {point}" in line


def test_refuses_swap(tmp_path, machine, maaslike_cmd):
    disk = machine.disk("a.img")
    sh("mkswap", disk)
    if sh("swapon", disk, check=False).returncode != 0:
        pytest.skip("swapon is not allowed here")
    machine.undo.append(("swapoff", disk))
    line = refused(maaslike_cmd, tmp_path, one_disk(disk), disk)
    assert f"{disk} is in use: it is in use as swap" in line


# -- missing programs ------------------------------------------------------------------------------

def path_without(tmp_path, *programs):
    """A PATH directory with links to every program on this PATH but `programs`."""
    shadow = tmp_path / "bin"
    shadow.mkdir()
    for folder in os.environ.get("PATH", os.defpath).split(os.pathsep):
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else ():
            link = shadow / name
            if name not in programs and not link.exists() and not link.is_symlink():
                os.symlink(os.path.join(folder, name), link)
    return str(shadow)


def test_a_missing_mkfs_is_found_before_wipefs_runs(tmp_path, machine, maaslike_cmd):
    disk = machine.disk("a.img")
    sh("mkfs.ext4", "-q", disk)  # something for wipefs to destroy
    env = dict(os.environ, PATH=path_without(tmp_path, "mkfs.xfs"))
    line = refused(maaslike_cmd, tmp_path, one_disk(disk, fstype="xfs"), disk, env=env)
    assert "storage.config[2] (id: f1): mkfs.xfs not found: install xfsprogs" in line


# -- preserved content -------------------------------------------------------------------------------

def kept_layout(keep, other, fstype="ext4", offset=None):
    """`keep` is preserved with its partition 1 and that partition's filesystem; `other` is rebuilt."""
    p1 = {"id": "k1", "type": "partition", "device": "k", "number": 1, "size": "100M", "preserve": True}
    if offset:
        p1["offset"] = offset
    return {"version": 1, "config": [
        {"id": "o", "type": "disk", "path": other, "ptable": "gpt", "wipe": "superblock"},
        {"id": "o1", "type": "partition", "device": "o", "number": 1, "size": "100M"},
        {"id": "of", "type": "format", "volume": "o1", "fstype": "ext4"},
        {"id": "om", "type": "mount", "device": "of", "path": "/"},
        {"id": "k", "type": "disk", "path": keep, "ptable": "gpt", "preserve": True},
        p1,
        {"id": "k2", "type": "partition", "device": "k", "number": 2, "size": "50M"},
        {"id": "kf", "type": "format", "volume": "k1", "fstype": fstype, "preserve": True},
        {"id": "km", "type": "mount", "device": "kf", "path": "/data"},
    ]}


@pytest.fixture
def kept_disks(machine):
    """A disk with a GPT partition 1 (1 MiB, 100 MiB) holding ext3, and a disk with an old ext4."""
    keep, other = machine.disk("keep.img"), machine.disk("other.img")
    machine.partitions(keep, "label: gpt\nstart=2048, size=204800\n")
    sh("mkfs.ext3", "-q", "-F", f"{keep}p1")
    sh("mkfs.ext4", "-q", other)
    return keep, other


def test_a_preserved_format_of_another_type_stops_before_any_disk_is_wiped(tmp_path, kept_disks, maaslike_cmd):
    keep, other = kept_disks
    line = refused(maaslike_cmd, tmp_path, kept_layout(keep, other), keep, other)
    assert f"storage.config[7] (id: kf): preserve: {keep}p1 holds ext3, not ext4" in line


def test_a_preserved_partition_elsewhere_stops_before_any_disk_is_wiped(tmp_path, kept_disks, maaslike_cmd):
    keep, other = kept_disks
    line = refused(maaslike_cmd, tmp_path, kept_layout(keep, other, fstype="ext3", offset="2M"), keep, other)
    assert (f"storage.config[5] (id: k1).offset: preserve: partition 1 of {keep} starts at 1M (1048576 bytes), "
            "the config says 2M (2097152 bytes)") in line


def test_a_preserved_table_of_another_kind_is_kept_as_curtin_keeps_it(tmp_path, kept_disks, maaslike_cmd):
    keep, other = kept_disks
    uuid = sh("blkid", "-p", "-o", "value", "-s", "UUID", f"{keep}p1").stdout.strip()
    storage = kept_layout(keep, other, fstype="ext3", offset="1M")
    storage["config"][4]["ptable"] = "msdos"
    done = install(maaslike_cmd, tmp_path, storage)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"storage.config[4] (id: k).ptable: preserve: {keep} has a gpt table, the config says msdos" in done.stderr
    table = json.loads(sh("sfdisk", "--json", keep).stdout)["partitiontable"]
    assert table["label"] == "gpt" and len(table["partitions"]) == 2  # kept, and the new partition added to it
    assert sh("blkid", "-p", "-o", "value", "-s", "UUID", f"{keep}p1").stdout.strip() == uuid


def test_a_matching_preserved_layout_installs(tmp_path, kept_disks, maaslike_cmd):
    keep, other = kept_disks
    uuid = sh("blkid", "-p", "-o", "value", "-s", "UUID", f"{keep}p1").stdout.strip()
    done = install(maaslike_cmd, tmp_path, kept_layout(keep, other, fstype="ext3", offset="1M"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert sh("blkid", "-p", "-o", "value", "-s", "UUID", f"{keep}p1").stdout.strip() == uuid
    assert os.path.exists(f"{keep}p2")


# -- dry run ---------------------------------------------------------------------------------------

def test_dry_run_fails_with_one_line_per_problem(tmp_path, machine, maaslike_cmd):
    disk = machine.disk("a.img")
    upper = machine.loop(disk)
    sh("mkfs.ext4", "-q", upper)
    point = machine.mount(upper, "-o", "ro")
    env = dict(os.environ, PATH=path_without(tmp_path, "mkfs.xfs"))
    before = digest(disk)
    done = install(maaslike_cmd, tmp_path, one_disk(disk, fstype="xfs"), "--dry-run", env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert digest(disk) == before
    assert done.stderr.splitlines() == [
        f"maaslike install: error: storage.config[0] (id: d): {disk} is in use: it backs {upper}, "
        f"mounted on {point}; refusing to touch it",
        "maaslike install: error: storage.config[2] (id: f1): mkfs.xfs not found: install xfsprogs",
    ]
    assert "the install would stop before writing anything:" in done.stdout


def test_dry_run_of_a_preserved_mismatch_fails(tmp_path, kept_disks, maaslike_cmd):
    keep, other = kept_disks
    done = install(maaslike_cmd, tmp_path, kept_layout(keep, other), "--dry-run", "--json")
    assert done.returncode == 2
    assert f"storage.config[7] (id: kf): preserve: {keep}p1 holds ext3, not ext4" in done.stderr
