"""Disk layouts written to real loop devices, read back with the real tools.

Root only (loop devices, mounts); skipped with the reason otherwise.  RAID and
LVM need md and device-mapper in the kernel: where the kernel has neither (the
test machines here), those tests skip with that reason and run in the VM.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess

import pytest
import yaml

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (loop devices, mounts)"),
]

MiB = 1 << 20
with open("/proc/filesystems") as _handle:
    HAS_VFAT = "vfat" in _handle.read()
from cloudinit_maaslike.storage.kernel import has_device_mapper, has_md  # noqa: E402

HAS_MD = has_md()
HAS_DM = has_device_mapper()


def sh(*argv, check=True, text=True, **kwargs):
    return subprocess.run(list(argv), capture_output=True, text=text, check=check, **kwargs)


class LoopDisk:
    def __init__(self, path, size):
        self.file = str(path)
        with open(self.file, "wb") as handle:
            handle.truncate(size)
        self.dev = sh("losetup", "--find", "--show", self.file).stdout.strip()

    def sha256(self) -> str:
        digest = hashlib.sha256()
        with open(self.file, "rb") as handle:
            for block in iter(lambda: handle.read(8 * MiB), b""):
                digest.update(block)
        return digest.hexdigest()

    def dump(self) -> dict:
        return json.loads(sh("sfdisk", "--json", self.dev).stdout)["partitiontable"]

    def part(self, number: int) -> str:
        return f"{self.dev}p{number}"

    def blkid(self, device: str) -> dict:
        out = sh("blkid", "-p", "-o", "export", device, check=False).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def cleanup(self) -> None:
        with open("/proc/self/mountinfo") as handle:
            points = [line.split()[4] for line in handle]
        base = os.path.basename(self.dev)
        for point in reversed(points):
            source = sh("findmnt", "-n", "-o", "SOURCE", "--mountpoint", point, check=False).stdout
            if base in source:
                sh("umount", "-l", point, check=False)
        sh("partx", "-d", self.dev, check=False)
        sh("losetup", "-d", self.dev, check=False)


@pytest.fixture
def loop(tmp_path):
    made = []

    def make(size=256 * MiB, name=None):
        disk = LoopDisk(tmp_path / (name or f"disk{len(made)}.img"), size)
        made.append(disk)
        return disk

    yield make
    for disk in made:
        disk.cleanup()


def install(maaslike_cmd, tmp_path, cfg, *extra, name="cfg.yaml"):
    base = {
        "install": {"log_file": str(tmp_path / "install.log"), "error_tarfile": None, "post_files": [],
                    "save_install_config": None, "save_install_log": None},
        "network_commands": {"builtin": None}, "extract_commands": {"builtin": None},
        "curthooks_commands": {"builtin": None}, "hook_commands": {"builtin": None},
        # what was mounted during the install, in mount order
        "late_commands": {"mounts": f'grep " $TARGET_MOUNT_POINT" /proc/self/mounts > {tmp_path}/mounts;'
                                    f' cp "$OUTPUT_FSTAB" {tmp_path}/fstab;'
                                    f' cp "$OUTPUT_STORAGE_CONFIG" {tmp_path}/storage.yaml'},
    }
    base.update(cfg)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(base))
    target = tmp_path / ("target-" + name)
    return subprocess.run([*maaslike_cmd, "install", "-c", str(path), "-t", str(target), *extra],
                          capture_output=True, text=True, timeout=300)


def mounts(tmp_path):
    return [line.split()[:3] for line in (tmp_path / "mounts").read_text().splitlines()]


def test_simple_mode_bios_msdos(tmp_path, loop, maaslike_cmd):
    disk = loop()
    done = install(maaslike_cmd, tmp_path, {"block-meta": {"devices": [disk.dev]}})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    table = disk.dump()
    assert table["label"] == "dos"
    (part,) = table["partitions"]
    assert part["type"] == "83" and part.get("bootable") and part["start"] == 2048
    info = disk.blkid(disk.part(1))
    assert info["TYPE"] == "ext4" and info["LABEL"] == "cloudimg-rootfs"
    fstab = (tmp_path / "fstab").read_text().splitlines()
    assert fstab == [f"# / was on {disk.part(1)} during curtin installation",
                     f"/dev/disk/by-uuid/{info['UUID']} / ext4 defaults 0 1"]
    assert [m[1] for m in mounts(tmp_path)] == [str(tmp_path / "target-cfg.yaml")]
    storage = yaml.safe_load((tmp_path / "storage.yaml").read_text())["storage"]
    assert [e["type"] for e in storage["config"]] == ["disk", "partition", "format", "mount"]


def test_simple_mode_gpt_on_bios_has_bios_grub(tmp_path, loop, maaslike_cmd):
    disk = loop()
    done = install(maaslike_cmd, tmp_path, {"block-meta": {"devices": [disk.dev], "format": "gpt"}})
    assert done.returncode == 0, done.stderr
    table = disk.dump()
    assert table["label"] == "gpt"
    by_node = {p["node"]: p for p in table["partitions"]}
    grub = by_node[disk.part(15)]
    assert grub["type"] == "21686148-6449-6E6F-744E-656564454649" and grub["size"] == 2048
    root = by_node[disk.part(1)]
    assert root["start"] == 4096 and disk.blkid(disk.part(1))["LABEL"] == "cloudimg-rootfs"


def test_simple_mode_uefi_layout(tmp_path, loop):
    """The layout and filesystems; the ESP is mounted only where the kernel has vfat."""
    from cloudinit_maaslike.storage import sysfs
    from cloudinit_maaslike.storage.apply import apply_plan
    from cloudinit_maaslike.storage.plan import make_plan
    from cloudinit_maaslike.storage.schema import parse_storage
    from cloudinit_maaslike.storage.simple import simple_layout

    disk = loop(1024 * MiB)
    layout = simple_layout(sysfs.device(disk.dev), "uefi")
    if not HAS_VFAT:
        layout["config"] = [e for e in layout["config"] if e["id"] != "disk0-esp_mount"]
    target = tmp_path / "target"
    applied = apply_plan(make_plan(parse_storage(layout)), str(target))
    try:
        by_node = {p["node"]: p for p in disk.dump()["partitions"]}
        esp = by_node[disk.part(15)]
        assert esp["type"] == "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" and esp["size"] == 512 * 2048
        info = disk.blkid(disk.part(15))
        assert info["TYPE"] == "vfat" and info["LABEL"] == "uefi-boot"
        assert by_node[disk.part(1)]["start"] == (1 + 512) * 2048
        assert any("/boot/efi" in line for line in applied.fstab) == HAS_VFAT
    finally:
        for where, _ in reversed(applied.mounted):
            sh("umount", where)


def test_custom_msdos_with_logical_partitions_swap_and_mount_order(tmp_path, loop, maaslike_cmd):
    disk = loop(320 * MiB)
    storage = {"version": 1, "config": [
        {"id": "d", "type": "disk", "path": disk.dev, "ptable": "msdos", "wipe": "superblock"},
        {"id": "p1", "type": "partition", "device": "d", "number": 1, "size": "100M", "flag": "boot"},
        {"id": "p2", "type": "partition", "device": "d", "number": 2, "size": "200M", "flag": "extended"},
        {"id": "p5", "type": "partition", "device": "d", "number": 5, "size": "64M", "flag": "logical"},
        {"id": "p6", "type": "partition", "device": "d", "number": 6, "size": "32M", "flag": "logical",
         "partition_type": "82"},
        {"id": "p7", "type": "partition", "device": "d", "number": 7, "size": "64M", "flag": "logical"},
        # listed out of order on purpose: mounts happen in path order
        {"id": "home_fs", "type": "format", "volume": "p5", "fstype": "ext4", "label": "home"},
        {"id": "home", "type": "mount", "device": "home_fs", "path": "/home", "options": "noatime"},
        {"id": "root_fs", "type": "format", "volume": "p1", "fstype": "ext4"},
        {"id": "var_fs", "type": "format", "volume": "p7", "fstype": "ext3"},
        {"id": "var", "type": "mount", "device": "var_fs", "path": "/var"},
        {"id": "root", "type": "mount", "device": "root_fs", "path": "/"},
        {"id": "swap_fs", "type": "format", "volume": "p6", "fstype": "swap"},
        {"id": "swap_mount", "type": "mount", "device": "swap_fs"},  # as MAAS sends it: no path
        {"id": "tmp", "type": "mount", "spec": "tmpfs", "fstype": "tmpfs", "path": "/tmp",
         "options": "size=10m"},
    ]}
    done = install(maaslike_cmd, tmp_path, {"storage": storage,
                                            "partitioning_commands": {"builtin": ["curtin", "block-meta",
                                                                                  "custom"]}})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    table = disk.dump()
    types = {p["node"]: p["type"] for p in table["partitions"]}
    assert types == {disk.part(1): "83", disk.part(2): "5", disk.part(5): "83", disk.part(6): "82",
                     disk.part(7): "83"}
    target = str(tmp_path / "target-cfg.yaml")
    assert [m[1] for m in mounts(tmp_path)] == [target, f"{target}/home", f"{target}/tmp", f"{target}/var"]
    fstab = (tmp_path / "fstab").read_text()
    home_uuid = disk.blkid(disk.part(5))["UUID"]
    assert f"/dev/disk/by-uuid/{home_uuid} /home ext4 noatime 0 1" in fstab
    swap_line = f"/dev/disk/by-uuid/{disk.blkid(disk.part(6))['UUID']} none swap sw 0 0"
    assert swap_line in fstab.splitlines() and "# none was on" not in fstab  # curtin: no comment for a swap
    assert "tmpfs /tmp tmpfs size=10m 0 0" in fstab
    assert disk.blkid(disk.part(7))["TYPE"] == "ext3"


def test_maas_shaped_gpt_config_with_xfs_and_btrfs(tmp_path, loop, maaslike_cmd):
    disk = loop(1024 * MiB)
    storage = {"version": 1, "config": [
        {"id": "sda", "name": "sda", "type": "disk", "wipe": "superblock", "ptable": "gpt",
         "path": disk.dev, "grub_device": True},
        {"id": "sda-part1", "name": "sda-part1", "type": "partition", "number": 1, "size": "1048576B",
         "device": "sda", "wipe": "superblock", "offset": "4194304B", "flag": "bios_grub"},
        {"id": "sda-part2", "name": "sda-part2", "type": "partition", "number": 2, "size": "536870912B",
         "device": "sda", "wipe": "superblock", "flag": "boot"},
        {"id": "sda-part3", "type": "partition", "number": 3, "size": "300M", "device": "sda",
         "wipe": "superblock"},
        {"id": "sda-part2_format", "type": "format", "fstype": "xfs", "label": "root",
         "uuid": "11111111-2222-3333-4444-555555555555", "volume": "sda-part2"},
        {"id": "sda-part3_format", "type": "format", "fstype": "btrfs", "volume": "sda-part3"},
        {"id": "sda-part2_mount", "type": "mount", "path": "/", "device": "sda-part2_format"},
        {"id": "sda-part3_mount", "type": "mount", "path": "/srv", "device": "sda-part3_format"},
    ]}
    done = install(maaslike_cmd, tmp_path, {"storage": storage})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    parts = {p["node"]: p for p in disk.dump()["partitions"]}
    assert parts[disk.part(1)]["start"] == 4194304 // 512
    assert parts[disk.part(2)]["start"] == 5 * 2048  # right after part1 (4 MiB + 1 MiB)
    assert disk.blkid(disk.part(2)) ["UUID"] == "11111111-2222-3333-4444-555555555555"
    assert disk.blkid(disk.part(3))["TYPE"] == "btrfs"
    assert "/dev/disk/by-uuid/11111111-2222-3333-4444-555555555555 / xfs defaults 0 1" in \
        (tmp_path / "fstab").read_text()


def test_preserve_keeps_a_filesystem_and_its_data(tmp_path, loop, maaslike_cmd):
    disk = loop()
    first = {"version": 1, "config": [
        {"id": "d", "type": "disk", "path": disk.dev, "ptable": "gpt"},
        {"id": "p1", "type": "partition", "device": "d", "number": 1, "size": "100M"},
        {"id": "p2", "type": "partition", "device": "d", "number": 2, "size": "100M"},
        {"id": "f1", "type": "format", "volume": "p1", "fstype": "ext4"},
        {"id": "f2", "type": "format", "volume": "p2", "fstype": "ext4", "label": "data"},
        {"id": "m1", "type": "mount", "device": "f1", "path": "/"},
        {"id": "m2", "type": "mount", "device": "f2", "path": "/data"},
    ]}
    keep = "echo precious > $TARGET_MOUNT_POINT/data/keep"
    done = install(maaslike_cmd, tmp_path, {"storage": first, "late_commands": {"w": keep}})
    assert done.returncode == 0, done.stderr
    data_uuid = disk.blkid(disk.part(2))["UUID"]
    second = json.loads(json.dumps(first))
    second["config"][0]["preserve"] = True
    second["config"][1]["preserve"] = True  # the root partition is kept, but reformatted
    second["config"][2]["preserve"] = True
    second["config"][4]["preserve"] = True
    check = f"cat $TARGET_MOUNT_POINT/data/keep > {tmp_path}/kept"
    done = install(maaslike_cmd, tmp_path, {"storage": second, "late_commands": {"r": check}},
                   name="second.yaml")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    assert (tmp_path / "kept").read_text() == "precious\n"
    assert disk.blkid(disk.part(2))["UUID"] == data_uuid


def test_wipe_zero_clears_the_whole_disk(tmp_path, loop, maaslike_cmd):
    disk = loop(64 * MiB)
    with open(disk.file, "r+b") as handle:
        handle.seek(40 * MiB)
        handle.write(b"OLD DATA" * 1000)
    storage = {"version": 1, "config": [
        {"id": "d", "type": "disk", "path": disk.dev, "ptable": "gpt", "wipe": "zero"},
        {"id": "p1", "type": "partition", "device": "d", "number": 1, "size": "8M"},
        {"id": "f1", "type": "format", "volume": "p1", "fstype": "ext4"},
        {"id": "m1", "type": "mount", "device": "f1", "path": "/"},
    ]}
    done = install(maaslike_cmd, tmp_path, {"storage": storage})
    assert done.returncode == 0, done.stderr
    with open(disk.file, "rb") as handle:
        assert b"OLD DATA" not in handle.read()


# -- refusals: nothing written ---------------------------------------------

def refused(maaslike_cmd, tmp_path, disk, storage):
    before = disk.sha256()
    done = install(maaslike_cmd, tmp_path, {"storage": storage})
    assert done.returncode != 0
    assert disk.sha256() == before, "the disk was written"
    return done.stderr.strip().splitlines()[-1]


def one_disk(disk, **changes):
    config = [
        {"id": "d", "type": "disk", "path": disk.dev, "ptable": "gpt", "wipe": "superblock"},
        {"id": "p1", "type": "partition", "device": "d", "number": 1, "size": "100M"},
        {"id": "f1", "type": "format", "volume": "p1", "fstype": "ext4"},
        {"id": "m1", "type": "mount", "device": "f1", "path": "/"},
    ]
    for index, update in changes.items():
        config[int(index[1:])].update(update)
    return {"version": 1, "config": config}


def test_refuses_a_mounted_disk(tmp_path, loop, maaslike_cmd):
    disk = loop()
    sh("mkfs.ext4", "-q", disk.dev)
    where = tmp_path / "busy"
    where.mkdir()
    sh("mount", disk.dev, str(where))
    try:
        line = refused(maaslike_cmd, tmp_path, disk, one_disk(disk))
    finally:
        sh("umount", str(where))
    assert "storage.config[0] (id: d)" in line and "is mounted on" in line and "refusing" in line


def test_refuses_a_disk_too_small(tmp_path, loop, maaslike_cmd):
    disk = loop()
    line = refused(maaslike_cmd, tmp_path, disk, one_disk(disk, i1={"size": "12G"}))
    assert "storage.config[1] (id: p1).size: 12G does not fit" in line and disk.dev in line


def test_refuses_a_dangling_reference(tmp_path, loop, maaslike_cmd):
    disk = loop()
    line = refused(maaslike_cmd, tmp_path, disk, one_disk(disk, i2={"volume": "nope"}))
    assert "storage.config[2] (id: f1).volume: refers to 'nope'" in line


def test_refuses_overlapping_partitions(tmp_path, loop, maaslike_cmd):
    disk = loop()
    storage = one_disk(disk, i1={"offset": "1M"})
    storage["config"].insert(2, {"id": "p2", "type": "partition", "device": "d", "number": 2,
                                 "size": "10M", "offset": "50M"})
    line = refused(maaslike_cmd, tmp_path, disk, storage)
    assert "(id: p2).offset: overlaps 'p1'" in line


def test_refuses_two_roots(tmp_path, loop, maaslike_cmd):
    disk = loop()
    storage = one_disk(disk)
    storage["config"] += [
        {"id": "p2", "type": "partition", "device": "d", "number": 2, "size": "10M"},
        {"id": "f2", "type": "format", "volume": "p2", "fstype": "ext4"},
        {"id": "m2", "type": "mount", "device": "f2", "path": "/"},
    ]
    line = refused(maaslike_cmd, tmp_path, disk, storage)
    assert "a second root" in line or "also mounted by" in line


def test_refuses_an_unknown_disk_naming_the_ones_there_are(tmp_path, loop, maaslike_cmd):
    disk = loop()
    line = refused(maaslike_cmd, tmp_path, disk, one_disk(disk, i0={"path": None, "serial": "NOPE123"}))
    assert "no disk with serial 'NOPE123'" in line and "disks:" in line


def test_dry_run_lists_the_devices_it_would_write(tmp_path, loop, maaslike_cmd):
    disk = loop()
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"storage": one_disk(disk)}))
    before = disk.sha256()
    done = subprocess.run([*maaslike_cmd, "install", "-c", str(path), "--dry-run"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"{disk.dev} (256M, gpt table, wipe superblock)" in done.stdout
    assert disk.sha256() == before


@pytest.mark.skipif(not HAS_MD, reason="the kernel here has no md (RAID); runs in the VM tests")
def test_raid1_across_two_loop_devices(tmp_path, loop, maaslike_cmd):
    a, b = loop(name="a.img"), loop(name="b.img")
    storage = {"version": 1, "config": [
        {"id": "a", "type": "disk", "path": a.dev, "ptable": "gpt"},
        {"id": "b", "type": "disk", "path": b.dev, "ptable": "gpt"},
        {"id": "a1", "type": "partition", "device": "a", "number": 1, "size": "200M", "flag": "raid"},
        {"id": "b1", "type": "partition", "device": "b", "number": 1, "size": "200M", "flag": "raid"},
        {"id": "md0", "type": "raid", "name": "md0", "raidlevel": 1, "devices": ["a1", "b1"]},
        {"id": "fs", "type": "format", "volume": "md0", "fstype": "ext4"},
        {"id": "m", "type": "mount", "device": "fs", "path": "/"},
    ]}
    done = install(maaslike_cmd, tmp_path, {"storage": storage})
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(not HAS_DM, reason="the kernel here has no device-mapper (LVM); runs in the VM tests")
def test_lvm_volume_group_and_volumes(tmp_path, loop, maaslike_cmd):
    disk = loop()
    storage = {"version": 1, "config": [
        {"id": "d", "type": "disk", "path": disk.dev, "ptable": "gpt"},
        {"id": "p1", "type": "partition", "device": "d", "number": 1, "size": "200M", "flag": "lvm"},
        {"id": "vg", "type": "lvm_volgroup", "name": "vg0", "devices": ["p1"]},
        {"id": "lv", "type": "lvm_partition", "name": "root", "volgroup": "vg", "size": "100M"},
        {"id": "fs", "type": "format", "volume": "lv", "fstype": "ext4"},
        {"id": "m", "type": "mount", "device": "fs", "path": "/"},
    ]}
    done = install(maaslike_cmd, tmp_path, {"storage": storage})
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(HAS_MD and HAS_DM, reason="this kernel has md and device-mapper: the layouts are built")
def test_raid_or_lvm_without_kernel_support_is_refused_before_writing(tmp_path, loop, maaslike_cmd):
    disk = loop()
    storage = {"version": 1, "config": [
        {"id": "d", "type": "disk", "path": disk.dev, "ptable": "gpt", "wipe": "superblock"},
        {"id": "p1", "type": "partition", "device": "d", "number": 1, "size": "100M"},
        {"id": "p2", "type": "partition", "device": "d", "number": 2, "size": "100M"},
        {"id": "vg", "type": "lvm_volgroup", "name": "vg0", "devices": ["p1"]},
        {"id": "md", "type": "raid", "name": "md0", "raidlevel": 1, "devices": ["p2", "d"]},
        {"id": "lv", "type": "lvm_partition", "name": "root", "volgroup": "vg"},
        {"id": "fs", "type": "format", "volume": "lv", "fstype": "ext4"},
        {"id": "m", "type": "mount", "device": "fs", "path": "/"},
    ]}
    line = refused(maaslike_cmd, tmp_path, disk, storage)
    assert "has no md (software RAID) support" in line or "has no device-mapper (LVM) support" in line


@pytest.mark.skipif(HAS_VFAT, reason="this kernel mounts vfat")
def test_a_filesystem_the_kernel_cannot_mount_is_refused_before_writing(tmp_path, loop, maaslike_cmd):
    disk = loop()
    storage = one_disk(disk)
    storage["config"] += [
        {"id": "p2", "type": "partition", "device": "d", "number": 2, "size": "64M", "flag": "esp"},
        {"id": "f2", "type": "format", "volume": "p2", "fstype": "fat32"},
        {"id": "m2", "type": "mount", "device": "f2", "path": "/boot/efi"},
    ]
    line = refused(maaslike_cmd, tmp_path, disk, storage)
    assert "(id: m2): this kernel cannot mount fat32 (for /boot/efi)" in line
