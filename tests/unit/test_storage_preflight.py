"""Everything the storage plan checks before its first write, on fake machines.

In use (a fake /sys and /proc, laid out as the kernel lays them out), missing
programs, and what `preserve` promises; the same checks on real loop devices
are in tests/integration/test_storage_inuse.py.
"""

from __future__ import annotations

import os

import pytest

from cloudinit_maaslike.config.problems import ConfigInvalid
from cloudinit_maaslike.install.plan import format_plan
from cloudinit_maaslike.storage.plan import make_plan
from cloudinit_maaslike.storage.preserve import OnDiskTable
from cloudinit_maaslike.storage.schema import parse_storage
from cloudinit_maaslike.storage.sysfs import BlockDevice
from cloudinit_maaslike.storage.tools import PACKAGES, programs_needed
from cloudinit_maaslike.storage.usage import explain, read_usage

MiB, GiB = 1 << 20, 1 << 30


class FakeMachine:
    """/sys/devices/virtual/block/<disk>[/<partition>] with /sys/class/block links, and /proc files."""

    def __init__(self, root):
        self.root = root
        self.sys = root / "sys"
        (self.sys / "class" / "block").mkdir(parents=True)
        (self.sys / "fs" / "btrfs").mkdir(parents=True)
        self.mountinfo = root / "mountinfo"
        self.swaps = root / "swaps"
        self.mountinfo.write_text("")
        self.swaps.write_text("Filename\tType\tSize\tUsed\tPriority\n")
        self.minor = 0

    def block(self, name, parent=None, major=7):
        base = self.sys / "devices" / "virtual" / "block"
        real = base / parent / name if parent else base / name
        real.mkdir(parents=True)
        self.minor += 1
        (real / "dev").write_text(f"{major}:{self.minor}\n")
        (real / "holders").mkdir()
        if parent:
            (real / "partition").write_text(name[-1] + "\n")
        else:
            (real / "slaves").mkdir()
        os.symlink(real, self.sys / "class" / "block" / name)
        return real

    def devno(self, name):
        return (self.sys / "class" / "block" / name / "dev").read_text().strip()

    def loop(self, name, backing):
        real = self.block(name)
        (real / "loop").mkdir()
        (real / "loop" / "backing_file").write_text(backing + "\n")

    def hold(self, holder, *slaves, label=""):
        real = self.block(holder, major=253)
        for slave in slaves:
            (self.sys / "class" / "block" / slave / "holders" / holder).touch()
            (real / "slaves" / slave).touch()
        if label:
            (real / "dm").mkdir()
            (real / "dm" / "name").write_text(label + "\n")

    def mount(self, name, point, fstype="ext4", devno=None):
        lines = self.mountinfo.read_text()
        number = 30 + lines.count("\n")
        devno = devno or self.devno(name)
        self.mountinfo.write_text(lines + f"{number} 1 {devno} / {point} rw,relatime shared:1 - {fstype} "
                                          f"/dev/{name} rw\n")

    def btrfs(self, fsid, *members):
        devices = self.sys / "fs" / "btrfs" / fsid / "devices"
        devices.mkdir(parents=True)
        for member in members:
            (devices / member).touch()

    def usage(self):
        def name_of(path):
            return os.path.basename(path) if path.startswith("/dev/") else None
        return read_usage(str(self.sys), str(self.mountinfo), str(self.swaps), name_of=name_of)


@pytest.fixture
def machine(tmp_path):
    return FakeMachine(tmp_path)


def test_idle_disk_has_no_reasons(machine):
    machine.loop("loop0", "/var/tmp/disk.img")
    machine.block("loop0p1", parent="loop0")
    assert explain("loop0", machine.usage()) == []


def test_a_disk_behind_a_mounted_loop_device(machine):
    """loopB's backing file is the block device loopA: loopA has no holders and opens shared."""
    machine.loop("loop5", "/tmp/a.img")
    machine.loop("loop7", "/dev/loop5")
    machine.mount("loop7", "/mnt/x")
    assert explain("loop5", machine.usage()) == ["it backs /dev/loop7, mounted on /mnt/x"]


def test_chains_are_followed_through_partitions_and_loops(machine):
    machine.loop("loop1", "/tmp/a.img")
    machine.block("loop1p1", parent="loop1")
    machine.block("loop1p2", parent="loop1")
    machine.loop("loop2", "/dev/loop1p2")
    machine.block("loop2p1", parent="loop2")
    machine.loop("loop3", "/dev/loop2p1")
    machine.mount("loop3", "/srv/deep")
    machine.mount("loop1p1", "/boot")
    assert explain("loop1", machine.usage()) == [
        "its partition /dev/loop1p1 is mounted on /boot",
        "its partition /dev/loop1p2 backs /dev/loop2, whose partition /dev/loop2p1 backs /dev/loop3"
        ", mounted on /srv/deep",
    ]


def test_a_loop_that_backs_an_idle_loop_is_still_in_use(machine):
    machine.loop("loop0", "/tmp/a.img")
    machine.loop("loop1", "/dev/loop0")
    machine.loop("loop2", "/dev/loop1")
    assert explain("loop0", machine.usage()) == ["it backs /dev/loop1, which backs /dev/loop2"]


def test_holders_and_slaves_dm_md(machine):
    machine.block("sda")
    machine.block("sda1", parent="sda")
    machine.block("sdb")
    machine.hold("dm-0", "sda1", label="vg0-root")
    machine.mount("dm-0", "/")
    machine.hold("md0", "sdb")
    machine.swaps.write_text(machine.swaps.read_text() + "/dev/md0\tpartition\t1024\t0\t-2\n")
    usage = machine.usage()
    assert explain("sda", usage) == ["its partition /dev/sda1 is held by /dev/dm-0 (vg0-root), mounted on /"]
    assert explain("sdb", usage) == ["it is held by /dev/md0, in use as swap"]


def test_only_slaves_listed_still_count(machine):
    """Some kernels show a dm table's devices in slaves/ only: both directions count."""
    machine.block("vdb")
    real = machine.block("dm-3", major=253)
    (real / "slaves" / "vdb").touch()
    assert explain("vdb", machine.usage()) == ["it is held by /dev/dm-3"]


def test_btrfs_members_and_anonymous_device_numbers(machine):
    machine.loop("loop0", "/tmp/a.img")
    machine.loop("loop1", "/tmp/b.img")
    machine.loop("loop2", "/tmp/c.img")
    machine.mount("loop0", "/data", fstype="btrfs", devno="0:44")  # not loop0's 7:N
    machine.btrfs("4884b37b-d8de-434d-aea9-e5ac0cbbbcb3", "loop0", "loop1")
    usage = machine.usage()
    assert explain("loop0", usage) == ["it is mounted on /data"]
    assert explain("loop1", usage) == ["it is part of btrfs 4884b37b-d8de-434d-aea9-e5ac0cbbbcb3, mounted on /data"]
    # not listed as a member, but blkid finds the UUID of a mounted btrfs on it
    probe = {"loop2": "4884b37b-d8de-434d-aea9-e5ac0cbbbcb3"}.get
    assert explain("loop2", usage, probe) == [
        "it is part of btrfs 4884b37b-d8de-434d-aea9-e5ac0cbbbcb3, mounted on /data"]
    assert explain("loop2", usage, {"loop2": "another"}.get) == []


def test_uuid_probe_runs_only_when_a_btrfs_is_mounted(machine):
    machine.loop("loop0", "/tmp/a.img")
    asked = []
    assert explain("loop0", machine.usage(), lambda name: asked.append(name)) == []
    assert asked == []


def test_a_loop_device_backed_by_a_busy_disk(machine):
    """Writing loop9 writes loop8, whose partition is mounted."""
    machine.loop("loop8", "/tmp/a.img")
    machine.block("loop8p1", parent="loop8")
    machine.mount("loop8p1", "/mnt/data")
    machine.loop("loop9", "/dev/loop8")
    assert explain("loop9", machine.usage()) == [
        "it is backed by /dev/loop8, whose partition /dev/loop8p1 is mounted on /mnt/data"]


def test_mount_points_are_unescaped_and_cycles_end(machine):
    machine.loop("loop0", "/dev/loop1")
    machine.loop("loop1", "/dev/loop0")
    machine.mount("loop1", "/mnt/with\\040space")
    reasons = explain("loop0", machine.usage())
    assert "it backs /dev/loop1, mounted on /mnt/with space" in reasons


# -- the planner: programs and preserved content ----------------------------------------------

def device(name="sda", size=10 * GiB):
    return BlockDevice(name=name, path=f"/dev/{name}", size=size, logical_sector=512, major_minor=(8, 0))


def idle(_device):
    return []


def capable(_what, _fstype=None):
    return None


def everything(program):
    return f"/usr/sbin/{program}"


def plan(entries, table=None, probe=None, which=everything, disks=None):
    return make_plan(parse_storage({"version": 1, "config": entries}), disks or [device()], busy=idle,
                     kernel_support=capable, read_table=lambda dev: table,
                     probe=probe or (lambda path, offset, size: {}), which=which)


def problems_of(entries, **kw):
    with pytest.raises(ConfigInvalid) as info:
        plan(entries, **kw)
    return [str(p) for p in info.value.problems]


DISK = {"id": "d", "type": "disk", "path": "/dev/sda", "ptable": "gpt", "wipe": "superblock"}
ROOT = [{"id": "p1", "type": "partition", "device": "d", "number": 1, "size": "1G"},
        {"id": "f1", "type": "format", "volume": "p1", "fstype": "xfs"},
        {"id": "m1", "type": "mount", "device": "f1", "path": "/"}]


def test_every_program_the_plan_runs_is_listed():
    entries = [dict(DISK, wipe="random"), *ROOT,
               {"id": "p2", "type": "partition", "device": "d", "number": 2, "size": "1G", "wipe": "superblock"},
               {"id": "p3", "type": "partition", "device": "d", "number": 3, "size": "1G"},
               {"id": "p4", "type": "partition", "device": "d", "number": 4, "size": "1G"},
               {"id": "vg", "type": "lvm_volgroup", "name": "vg0", "devices": ["p3"]},
               {"id": "lv", "type": "lvm_partition", "name": "lv", "volgroup": "vg", "size": "100M"},
               {"id": "md", "type": "raid", "name": "md0", "raidlevel": 1, "devices": ["p2", "p4"]},
               {"id": "sw", "type": "format", "volume": "md", "fstype": "swap"},
               {"id": "lvf", "type": "format", "volume": "lv", "fstype": "btrfs"}]
    needed = programs_needed(plan(entries))
    assert set(needed) == {"shred", "sfdisk", "partx", "wipefs", "mkfs.xfs", "mkswap", "mkfs.btrfs", "mount", "mdadm",
                           "pvcreate", "vgcreate", "lvcreate", "vgchange", "vgmknodes"}
    assert needed["mkfs.xfs"] == "storage.config[2] (id: f1)"
    assert needed["shred"] == "storage.config[0] (id: d)"
    assert set(needed) <= set(PACKAGES)


def test_missing_programs_are_problems_naming_the_package():
    missing = {"mkfs.xfs", "wipefs"}
    found = problems_of([DISK, *ROOT], which=lambda p: None if p in missing else everything(p))
    assert found == ["storage.config[0] (id: d): wipefs not found: install util-linux",
                     "storage.config[2] (id: f1): mkfs.xfs not found: install xfsprogs"]


GPT = OnDiskTable("gpt", {1: (MiB, GiB), 2: (MiB + GiB, 512 * MiB)})
KEPT = [{"id": "d", "type": "disk", "path": "/dev/sda", "ptable": "gpt", "preserve": True},
        {"id": "p1", "type": "partition", "device": "d", "number": 1, "size": "1G", "preserve": True},
        {"id": "f1", "type": "format", "volume": "p1", "fstype": "ext4", "preserve": True},
        {"id": "m1", "type": "mount", "device": "f1", "path": "/"}]


def ext4_at_1m(path, offset, size):
    return {"TYPE": "ext4"} if (path, offset, size) == ("/dev/sda", MiB, GiB) else {}


def test_preserved_partition_and_format_that_match():
    planned = plan(KEPT + [{"id": "p3", "type": "partition", "device": "d", "number": 3, "size": "1G"}],
                   table=OnDiskTable("gpt", {1: (MiB, GiB)}), probe=ext4_at_1m)
    parts = {p.number: (p.start, p.size) for p in planned.disks[0].partitions}
    # new partitions go after what is there; the kept one is where the table has it
    assert parts[1] == (MiB, GiB)
    assert parts[3][0] == MiB + GiB


def test_preserved_content_is_checked_before_any_write():
    entries = [dict(e) for e in KEPT]
    entries[1].update(offset="2M", size="900M")
    entries += [{"id": "p2", "type": "partition", "device": "d", "number": 2, "size": "10M"},
                {"id": "p4", "type": "partition", "device": "d", "number": 4, "size": "10M", "offset": "1G"}]
    found = problems_of(entries, table=GPT, probe=lambda path, offset, size: {"TYPE": "xfs"})
    assert found == [
        "storage.config[1] (id: p1).offset: preserve: partition 1 of /dev/sda starts at 1M (1048576 bytes), "
        "the config says 2M (2097152 bytes)",
        "storage.config[1] (id: p1).size: preserve: partition 1 is 1G, the config says 900M",
        "storage.config[4] (id: p2).number: partition 2 already exists on preserved /dev/sda",
        "storage.config[5] (id: p4).offset: would overlap partition 1 of preserved /dev/sda (1M to 1G)",
        "storage.config[2] (id: f1): preserve: /dev/sda1 holds xfs, not ext4",
    ]


def test_a_preserved_table_must_exist_and_its_own_kind_is_kept():
    assert problems_of(KEPT, table=None) == [
        "storage.config[0] (id: d).ptable: preserve: /dev/sda has no partition table (the config says gpt)"]
    msdos = OnDiskTable("msdos", {1: (MiB, GiB)})
    planned = plan(KEPT, table=msdos, probe=ext4_at_1m)  # curtin does not compare the kinds
    assert planned.disks[0].ptable == "msdos"
    assert problems_of(KEPT, table=OnDiskTable("gpt", {}))[0] == \
        "storage.config[1] (id: p1): preserve: /dev/sda has no partition 1"


def test_a_preserved_format_on_something_made_new():
    entries = [DISK, *ROOT]
    entries[2] = dict(entries[2], preserve=True)
    assert problems_of(entries) == [
        "storage.config[2] (id: f1).preserve: partition 1 of /dev/sda is made new by this install: "
        "there is nothing to keep"]


def test_fat_is_vfat_and_raid_members_carry_their_signature():
    entries = [dict(e) for e in KEPT]
    entries[2].update(fstype="fat32")
    assert plan(entries, table=GPT, probe=lambda *a: {"TYPE": "vfat"})
    raid = [KEPT[0], KEPT[1],
            {"id": "p2", "type": "partition", "device": "d", "number": 2, "size": "512M", "preserve": True},
            {"id": "md", "type": "raid", "name": "md0", "raidlevel": 1, "devices": ["p1", "p2"],
             "preserve": True},
            {"id": "f", "type": "format", "volume": "md", "fstype": "ext4"},
            {"id": "m", "type": "mount", "device": "f", "path": "/"}]
    members = {MiB: {"TYPE": "linux_raid_member"}, MiB + GiB: {"TYPE": "ext4"}}
    assert problems_of(raid, table=GPT, probe=lambda path, offset, size: members[offset]) == [
        "storage.config[3] (id: md): preserve: /dev/sda2 holds ext4, not a RAID member"]


def test_no_table_read_or_probe_without_the_programs():
    def never(*args):
        raise AssertionError("ran a program that is not there")
    with pytest.raises(ConfigInvalid) as info:
        make_plan(parse_storage({"version": 1, "config": KEPT}), [device()], busy=idle, kernel_support=capable,
                  read_table=never, probe=never, which=lambda p: None)
    assert [str(p) for p in info.value.problems] == [
        "storage.config[0] (id: d): sfdisk not found: install fdisk",
        "storage.config[2] (id: f1): blkid not found: install util-linux",
        "storage.config[3] (id: m1): mount not found: install mount"]


def test_dry_run_text_lists_each_problem_on_its_own_line():
    text = format_plan({"stages": [], "devices": ["(the install would stop here: ...)"], "sources": [],
                        "reporting": [], "power_state": None, "problems": ["a: in use", "b: missing"]})
    assert text.splitlines()[-3:] == ["the install would stop before writing anything:", "  a: in use",
                                      "  b: missing"]


def test_a_disk_the_config_names_is_refused_when_in_use_not_passed_over(monkeypatch):
    from cloudinit_maaslike.storage import simple
    from cloudinit_maaslike.storage.schema import parse_storage
    from cloudinit_maaslike.storage.simple import BlockMetaSettings, NoDisk, choose_disk

    monkeypatch.setattr(simple.sysfs, "device", lambda path: device(os.path.basename(path)))

    def busy(dev):
        return ["it backs /dev/loop7, mounted on /mnt/x"] if dev.name == "vdb" else []

    disks = [device("vda"), device("vdb")]
    with pytest.raises(NoDisk, match=r"^block-meta.devices: /dev/vdb is in use: it backs /dev/loop7, mounted on "
                                     r"/mnt/x; refusing to touch it$"):
        choose_disk(None, BlockMetaSettings(devices=("/dev/vdb",)), candidates=disks, busy=busy)
    storage = parse_storage({"version": 1, "config": [{"id": "d", "type": "disk", "path": "/dev/vdb",
                                                       "grub_device": True}]})
    with pytest.raises(NoDisk, match=r"^storage.config\[0\] \(id: d\): /dev/vdb is in use"):
        choose_disk(storage, candidates=disks, busy=busy)
