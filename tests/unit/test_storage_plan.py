"""Storage validation and planning without touching a disk (fake devices)."""

import pytest

from cloudinit_maaslike.config.problems import ConfigInvalid
from cloudinit_maaslike.storage.plan import make_plan
from cloudinit_maaslike.storage.schema import parse_storage
from cloudinit_maaslike.storage.simple import NoDisk, choose_disk, simple_layout
from cloudinit_maaslike.storage.sysfs import BlockDevice
from cloudinit_maaslike.storage.units import BadSize, parse_size

MiB, GiB = 1 << 20, 1 << 30


def device(name="sda", size=10 * GiB, serial="", wwn="", **kw):
    return BlockDevice(name=name, path=f"/dev/{name}", size=size, logical_sector=512,
                       major_minor=(8, 0), serial=serial, wwn=wwn, **kw)


def idle(_device):
    return []


def capable(_what, _fstype=None):
    return None


def cfg(*entries):
    return {"version": 1, "config": list(entries)}


DISK = {"id": "sda", "type": "disk", "serial": "S1", "ptable": "gpt", "wipe": "superblock"}


@pytest.mark.parametrize("text,size", [("512M", 512 * MiB), ("12G", 12 * GiB), ("1073741824B", GiB),
                                       ("1.5G", 3 * GiB // 2), (4096, 4096), ("10GB", 10 * GiB),
                                       ("2GiB", 2 * GiB)])
def test_sizes(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["twelve", "-1", "12Q", True])
def test_bad_sizes(text):
    with pytest.raises(BadSize):
        parse_size(text)


def test_problems_name_the_entry_and_key():
    with pytest.raises(ConfigInvalid) as info:
        parse_storage(cfg(
            DISK,
            {"id": "p1", "type": "partition", "device": "sda", "size": "huge"},
            {"id": "p2", "type": "partition", "device": "nope", "size": "1G"},
            {"id": "f1", "type": "format", "volume": "p1", "fstype": "ntfs"},
            {"id": "f2", "type": "format", "volume": "p1", "fstype": "ext4", "label": "x" * 20},
            {"id": "m1", "type": "mount", "device": "f2", "path": "relative"},
            {"id": "bc", "type": "bcache"},
        ))
    found = [str(p) for p in info.value.problems]
    assert "storage.config[1] (id: p1).size: not a size: 'huge' (use e.g. 512M, 12G, 1073741824B)" in found
    assert "storage.config[2] (id: p2).device: refers to 'nope', which no entry has as id" in found
    assert any(p.startswith("storage.config[3] (id: f1).fstype: unsupported filesystem 'ntfs'") for p in found)
    assert any(p.startswith("storage.config[4] (id: f2).label") for p in found)
    assert "storage.config[5] (id: m1).path: must be absolute, got 'relative'" in found
    assert "storage.config[6] (id: bc).type: bcache is not supported by this installer" in found
    assert "storage.config[4] (id: f2).volume: 'p1' is already used by 'f1'" in found


def test_references_must_point_at_the_right_kind():
    with pytest.raises(ConfigInvalid, match=r"refers to 'sda', a disk, not a format"):
        parse_storage(cfg(DISK, {"id": "m", "type": "mount", "device": "sda", "path": "/"}))


def test_no_root_and_two_roots():
    part = {"id": "p1", "type": "partition", "device": "sda", "size": "1G"}
    fmt = {"id": "f1", "type": "format", "volume": "p1", "fstype": "ext4"}
    with pytest.raises(ConfigInvalid, match="no mount has path /"):
        parse_storage(cfg(DISK, part, fmt, {"id": "m", "type": "mount", "device": "f1", "path": "/srv"}))


def test_wipe_and_preserve_conflict():
    with pytest.raises(ConfigInvalid, match=r"\(id: sda\).wipe: wipe and preserve together"):
        parse_storage(cfg(dict(DISK, preserve=True)))


def test_msdos_rules():
    disk = dict(DISK, ptable="msdos")
    with pytest.raises(ConfigInvalid) as info:
        parse_storage(cfg(disk, *[{"id": f"p{i}", "type": "partition", "device": "sda", "size": "1G"}
                                  for i in range(5)],
                          {"id": "l", "type": "partition", "device": "sda", "size": "1G", "flag": "logical"}))
    text = str(info.value)
    assert "at most 4 primary partitions" in text and "need an extended partition" in text


def layout(*extra, disk_size=10 * GiB):
    config = parse_storage(cfg(DISK, *extra))
    return make_plan(config, candidates=[device(serial="S1", size=disk_size)], busy=idle, kernel_support=capable)


def test_partitions_are_aligned_and_numbered():
    plan = layout({"id": "p1", "type": "partition", "device": "sda", "size": "1M", "flag": "bios_grub"},
                  {"id": "p2", "type": "partition", "device": "sda", "size": "1000000B"},
                  {"id": "p3", "type": "partition", "device": "sda", "size": "2G", "number": 7})
    (disk,) = plan.disks
    assert [(p.number, p.start, p.size) for p in disk.partitions] == [
        (1, MiB, MiB), (2, 2 * MiB, 999936), (7, 3 * MiB, 2 * GiB)]
    assert disk.partitions[0].type_code == "21686148-6449-6E6F-744E-656564454649"
    assert plan.volumes["p3"] == "/dev/sda7"


def test_too_big_for_the_disk():
    with pytest.raises(ConfigInvalid) as info:
        layout({"id": "p1", "type": "partition", "device": "sda", "size": "12G"})
    assert "storage.config[1] (id: p1).size: 12G does not fit" in str(info.value)
    assert "disk sda (/dev/sda) is 10G (usable)" in str(info.value)


def test_disks_found_by_wwn_then_serial_then_path():
    candidates = [device("sda", serial="AAA"), device("sdb", wwn="naa.5000c500a1b2c3d4"),
                  device("sdc", serial="CCC")]
    by_wwn = parse_storage(cfg({"id": "d", "type": "disk", "wwn": "0x5000c500a1b2c3d4", "serial": "CCC"}))
    assert make_plan(by_wwn, candidates, busy=idle, kernel_support=capable).disks[0].device.name == "sdb"
    by_path = parse_storage(cfg({"id": "d", "type": "disk", "path": "/dev/sdc"}))
    assert make_plan(by_path, candidates, busy=idle, kernel_support=capable).disks[0].device.name == "sdc"
    missing = parse_storage(cfg({"id": "d", "type": "disk", "serial": "ZZZ"}))
    with pytest.raises(ConfigInvalid, match=r"no disk with serial 'ZZZ' on this machine \(disks: sda"):
        make_plan(missing, candidates, busy=idle, kernel_support=capable)


def test_busy_disks_are_refused_with_the_reason():
    config = parse_storage(cfg(DISK))
    with pytest.raises(ConfigInvalid, match="is in use: /dev/sda1 is mounted on /; refusing"):
        make_plan(config, [device(serial="S1")], busy=lambda d: ["/dev/sda1 is mounted on /"],
                  kernel_support=capable)


def test_simple_mode_choice_and_layouts():
    candidates = [device("loop0", size=5 * GiB), device("vda", size=512 * MiB),
                  device("vdb", size=20 * GiB, removable=True), device("vdc", size=20 * GiB)]
    assert choose_disk(None, candidates=candidates, busy=idle).name == "vdc"
    assert choose_disk(None, candidates=candidates[:3], busy=idle).name == "vdb"  # removable as a last resort
    with pytest.raises(NoDisk):
        choose_disk(None, candidates=candidates[:2], busy=idle)
    storage = parse_storage(cfg(dict(DISK, grub_device=True)))
    assert choose_disk(storage, candidates=[device("sdz", serial="S1")], busy=idle).name == "sdz"
    for kind, first_root in (("mbr", MiB), ("gpt", 2 * MiB), ("uefi", 513 * MiB)):
        config = parse_storage(simple_layout(device("vdc", size=20 * GiB), kind))
        plan = make_plan(config, [device("vdc", size=20 * GiB)], busy=idle, kernel_support=capable)
        root = next(p for p in plan.disks[0].partitions if p.number == 1)
        assert root.start == first_root
        assert root.start + root.size <= 20 * GiB


def test_kernel_support_is_checked_before_any_write():
    config = parse_storage(cfg(
        DISK,
        {"id": "p1", "type": "partition", "device": "sda", "size": "1G"},
        {"id": "p2", "type": "partition", "device": "sda", "size": "1G"},
        {"id": "md0", "type": "raid", "name": "md0", "raidlevel": 1, "devices": ["p1", "p2"]},
        {"id": "f", "type": "format", "volume": "md0", "fstype": "xfs"},
        {"id": "m", "type": "mount", "device": "f", "path": "/"},
    ))
    refuse = {"raid": "this kernel has no md (software RAID) support",
              "mount": "this kernel cannot mount xfs"}
    with pytest.raises(ConfigInvalid) as info:
        make_plan(config, [device(serial="S1")], busy=idle,
                  kernel_support=lambda what, fstype=None: refuse.get(what))
    text = str(info.value)
    assert "(id: md0): this kernel has no md (software RAID) support; cannot build it" in text
    assert "(id: m): this kernel cannot mount xfs (for /)" in text


def test_fstab_names_fat_as_the_kernel_does():
    """MAAS's ESP is 'fat32'; an fstab saying so fails to mount and stops boot at local-fs."""
    from cloudinit_maaslike.storage.apply import FilesystemMade, fstab_line
    from cloudinit_maaslike.storage.model import Mount

    made = FilesystemMade("/dev/vda15", "fat32", "B929-573C")
    line = fstab_line(Mount("esp-mount", "/boot/efi", device="esp"), made, "/dev/vda15")[-1]
    assert line == "/dev/disk/by-uuid/B929-573C /boot/efi vfat defaults 0 1"
    root = FilesystemMade("/dev/vda1", "ext4", "9fc4")
    assert fstab_line(Mount("m", "/", device="r"), root, "/dev/vda1")[-1].split()[2] == "ext4"


def test_a_disk_swapped_for_another_after_planning_is_refused_before_any_write(monkeypatch):
    from cloudinit_maaslike.storage import apply, sysfs
    from cloudinit_maaslike.storage.commands import StorageError
    from cloudinit_maaslike.storage.plan import PlannedDisk
    from cloudinit_maaslike.storage.schema import parse_storage as parse

    entry = parse(cfg(dict(DISK, path="/dev/sda"))).entries[0]
    planned = PlannedDisk(entry, device(serial="S1"), "gpt", ())
    monkeypatch.setattr(sysfs, "device", lambda path: device(size=2 * GiB, serial="OTHER"))
    with pytest.raises(StorageError, match=r"/dev/sda is not the disk that was planned \(size 2147483648, "
                                           r"planned 10737418240; serial 'OTHER', planned 'S1'\)"):
        apply.check_still_there(planned)
    monkeypatch.setattr(sysfs, "device", lambda path: device(serial="S1"))
    apply.check_still_there(planned)  # the same disk: fine


ROOT_PART = {"id": "p1", "type": "partition", "device": "sda", "size": "1G"}
ROOT_FMT = {"id": "f1", "type": "format", "volume": "p1", "fstype": "ext4"}
ROOT_MOUNT = {"id": "m1", "type": "mount", "device": "f1", "path": "/"}
SWAP_PART = {"id": "p2", "type": "partition", "device": "sda", "size": "512M"}
SWAP_FMT = {"id": "f2", "type": "format", "volume": "p2", "fstype": "swap"}


def test_a_swap_format_may_have_a_mount_entry_without_a_path_as_maas_sends_it():
    parsed = parse_storage(cfg(DISK, ROOT_PART, ROOT_FMT, ROOT_MOUNT, SWAP_PART, SWAP_FMT,
                               {"id": "m2", "type": "mount", "device": "f2"}))
    assert [m.id for m in parsed.entries if m.id.startswith("m")] == ["m1", "m2"]


def test_a_filesystem_mount_without_a_path_is_refused():
    with pytest.raises(ConfigInvalid, match=r"\(id: m2\)\.path: required \(only a swap format's mount"):
        parse_storage(cfg(DISK, ROOT_PART, ROOT_FMT, ROOT_MOUNT, SWAP_PART,
                          {"id": "f2", "type": "format", "volume": "p2", "fstype": "ext4"},
                          {"id": "m2", "type": "mount", "device": "f2"}))


@pytest.mark.parametrize("path,options,expected", [
    ("", "defaults", ["/dev/disk/by-uuid/U none swap sw 0 0"]),
    ("none", "pri=5", ["/dev/disk/by-uuid/U none swap pri=5 0 0"]),
    ("/swap", "", ["# /swap was on /dev/vda2 during curtin installation", "/dev/disk/by-uuid/U /swap swap sw 0 0"]),
])
def test_a_swap_mount_is_one_fstab_line_as_curtin_writes_it(path, options, expected):
    from cloudinit_maaslike.storage.apply import FilesystemMade, swap_line
    from cloudinit_maaslike.storage.model import Mount

    assert swap_line(Mount("m", path=path, device="f", options=options), FilesystemMade("/dev/vda2", "swap", "U")) \
        == expected
