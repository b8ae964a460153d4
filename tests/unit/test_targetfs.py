"""Paths inside the target resolve as a chroot would: links never lead out."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from cloudinit_maaslike import targetfs


@pytest.fixture
def layout(tmp_path):
    """A target whose links point at a decoy beside it, absolutely and with `..`."""
    decoy = tmp_path / "decoy"
    (decoy / "etc").mkdir(parents=True)
    root = tmp_path / "target"
    (root / "real/etc").mkdir(parents=True)
    (root / "real/root").mkdir(parents=True)
    (root / "etc").symlink_to(decoy / "etc")  # absolute: the host's decoy
    (root / "root").symlink_to("../../../../../../../../real/root")  # climbs out on the host
    (root / "boot").symlink_to("/real/boot")  # dangling on the host, inside the target
    return root, decoy


def test_absolute_link_resolves_inside_the_target(layout):
    root, decoy = layout
    os.symlink("/real/etc", root / "etc2")
    assert targetfs.resolve(str(root), "/etc2/fstab") == str(root / "real/etc/fstab")
    # `etc` points at an absolute host path that, seen from the target, does not exist
    assert targetfs.resolve(str(root), "etc/fstab") == str(root / decoy.relative_to("/") / "etc/fstab")


def test_dotdot_never_climbs_above_the_target(layout):
    root, _ = layout
    assert targetfs.resolve(str(root), "/root/x") == str(root / "real/root/x")
    assert targetfs.resolve(str(root), "../../../real/root/../x") == str(root / "real/x")


def test_strict_refuses_what_climbs_above_the_target_instead_of_stopping_at_its_root(layout):
    root, _ = layout
    with pytest.raises(targetfs.TargetPathError, match="root/x in the target .*: leads out of the target"):
        targetfs.resolve(str(root), "/root/x", strict=True)  # the link climbs
    with pytest.raises(targetfs.TargetPathError, match="leads out of the target"):
        targetfs.resolve(str(root), "../x", strict=True)
    assert targetfs.resolve(str(root), "/real/etc/../root/x", strict=True) == str(root / "real/root/x")
    assert targetfs.resolve(str(root), "/boot/vmlinuz", strict=True) == str(root / "real/boot/vmlinuz")


def test_link_loops_are_refused(tmp_path):
    (tmp_path / "a").symlink_to("/b")
    (tmp_path / "b").symlink_to("/a")
    with pytest.raises(targetfs.TargetPathError, match="more than 40 symbolic links"):
        targetfs.resolve(str(tmp_path), "a/file")


def test_write_file_lands_inside_and_leaves_the_decoy_empty(layout):
    root, decoy = layout
    written = targetfs.write_file(str(root), "/etc/fstab", "x\n", mode=0o600)
    assert os.listdir(decoy / "etc") == []
    assert written.startswith(str(root) + "/")
    assert Path(written).read_text() == "x\n" and stat.S_IMODE(os.stat(written).st_mode) == 0o600
    targetfs.write_file(str(root), "/root/curtin-install.log", b"log")
    assert (root / "real/root/curtin-install.log").read_bytes() == b"log"
    targetfs.write_file(str(root), "/boot/grub/x", b"g")  # dangling link: created where it points
    assert (root / "real/boot/grub/x").read_bytes() == b"g"


def test_write_file_follows_a_final_link_inside_the_target(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "run").mkdir()
    (tmp_path / "etc/resolv.conf").symlink_to("/run/resolv.conf")
    targetfs.write_file(str(tmp_path), "etc/resolv.conf", "nameserver 10.0.0.1\n")
    assert (tmp_path / "run/resolv.conf").read_text() == "nameserver 10.0.0.1\n"
    assert (tmp_path / "etc/resolv.conf").is_symlink()


def test_write_file_refuses_a_directory_and_the_root(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(IsADirectoryError):
        targetfs.write_file(str(tmp_path), "d", "x")
    assert os.listdir(tmp_path / "d") == [] and sorted(os.listdir(tmp_path)) == ["d"]  # no temporary left
    with pytest.raises(targetfs.TargetPathError, match="target root"):
        targetfs.write_file(str(tmp_path), "/../", "x")


def test_read_file_and_predicates_see_what_the_image_means(layout):
    root, decoy = layout
    (decoy / "etc/secret").write_text("host")
    assert targetfs.read_file(str(root), "etc/secret") is None
    (root / "real/root/key").write_text("image")
    assert targetfs.read_file(str(root), "/root/key") == b"image"
    assert targetfs.is_dir(str(root), "root") and not targetfs.is_file(str(root), "etc/secret")


def test_makedirs_creates_inside_the_target(layout):
    root, decoy = layout
    made = targetfs.makedirs(str(root), "/etc/cloud/cloud.cfg.d")
    assert made.startswith(str(root) + "/") and os.path.isdir(made)
    assert os.listdir(decoy / "etc") == []
    assert stat.S_IMODE(os.stat(made).st_mode) & 0o755 == 0o755


def test_makedirs_creates_a_missing_target_root(tmp_path):
    assert targetfs.makedirs(str(tmp_path / "new-target"), "/") == str(tmp_path / "new-target")
    assert (tmp_path / "new-target").is_dir()
