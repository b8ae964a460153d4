from cloudinit_maaslike.curthooks.system import boot_stack_kinds


def layout(root_on: str):
    """Three disks: root on the first; RAID1 of the others under LVM for /srv."""
    entries = [
        {"id": "vda", "type": "disk"}, {"id": "vdb", "type": "disk"}, {"id": "vdc", "type": "disk"},
        {"id": "vda1", "type": "partition", "device": "vda"},
        {"id": "vdb1", "type": "partition", "device": "vdb"},
        {"id": "vdc1", "type": "partition", "device": "vdc"},
        {"id": "md0", "type": "raid", "devices": ["vdb1", "vdc1"]},
        {"id": "vg0", "type": "lvm_volgroup", "devices": ["md0"]},
        {"id": "lv0", "type": "lvm_partition", "volgroup": "vg0"},
        {"id": "fs-root", "type": "format", "volume": "vda1" if root_on == "disk" else "lv0"},
        {"id": "fs-data", "type": "format", "volume": "lv0" if root_on == "disk" else "vda1"},
        {"id": "m-root", "type": "mount", "path": "/", "device": "fs-root"},
        {"id": "m-data", "type": "mount", "path": "/srv", "device": "fs-data"},
    ]
    return entries


def test_a_data_mount_on_raid_and_lvm_needs_nothing_at_boot():
    kinds = boot_stack_kinds(layout("disk"))
    assert "raid" not in kinds and "lvm_partition" not in kinds
    assert kinds == {"partition", "disk", "format"}


def test_a_root_on_lvm_over_raid_needs_both_in_the_initramfs():
    kinds = boot_stack_kinds(layout("lvm"))
    assert {"raid", "lvm_volgroup", "lvm_partition"} <= kinds


def test_cycles_and_dangling_ids_do_not_hang():
    entries = [{"id": "a", "type": "raid", "devices": ["b"]}, {"id": "b", "type": "raid", "devices": ["a", "zz"]},
               {"id": "m", "type": "mount", "path": "/boot", "device": "a"}]
    assert boot_stack_kinds(entries) == {"raid"}


def _ctx(tmp_path, mdadm_conf: str, hook: bool):
    import logging

    from cloudinit_maaslike.curthooks.context import HookContext

    target = tmp_path / "target"
    (target / "boot").mkdir(parents=True)
    (target / "boot" / "vmlinuz-6.1.0-1-amd64").write_text("k")
    (target / "boot" / "initrd.img-6.1.0-1-amd64").write_text("i")
    if hook:
        (target / "usr/share/initramfs-tools/hooks").mkdir(parents=True)
        (target / "usr/share/initramfs-tools/hooks/mdadm").write_text("#!/bin/sh\n")
    conf = tmp_path / "mdadm.conf"
    conf.write_text(mdadm_conf)
    return HookContext(cfg={}, target=str(target), state={"mdadm_conf": str(conf)},
                       log=logging.getLogger("test"), in_target=None)  # type: ignore[arg-type]


def test_built_arrays_rebuild_the_initramfs_when_it_assembles_them(tmp_path):
    from cloudinit_maaslike.curthooks.system import initramfs_reason

    line = "ARRAY /dev/md/md0 metadata=1.2 name=node:md0 UUID=9e9a8381:4631c2c4:a6abee40:c7f6ee0f\n"
    assert "RAID arrays were built" in initramfs_reason(_ctx(tmp_path / "a", line, hook=True))
    # no arrays, or an image whose initramfs has no mdadm: the image's initramfs is kept
    assert initramfs_reason(_ctx(tmp_path / "b", "", hook=True)) is None
    assert initramfs_reason(_ctx(tmp_path / "c", line, hook=False)) is None
