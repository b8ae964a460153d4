"""``block-meta`` (simple mode) parsed once at validation, with curtin's platform rule."""

from __future__ import annotations

import pytest

from cloudinit_maaslike.config import merge_configs
from cloudinit_maaslike.config.problems import ConfigInvalid
from cloudinit_maaslike.install.prepare import checked_config
from cloudinit_maaslike.storage.simple import BlockMetaSettings, platform


def settings(section):
    return checked_config(merge_configs([{"block-meta": section}])).parsed("block-meta", BlockMetaSettings())


def test_the_section_is_parsed_at_validation():
    assert settings({"format": "GPT", "devices": ["/dev/vdb"]}) == BlockMetaSettings("gpt", ("/dev/vdb",))
    assert settings({"devices": "/dev/vdc"}).devices == ("/dev/vdc",)


@pytest.mark.parametrize("section,message", [
    ({"format": "zfs"}, "block-meta.format: expected one of uefi, gpt, mbr, msdos, prep"),
    ({"format": "prep"}, "block-meta.format: refused: prep"),
    ({"devices": [3]}, "block-meta.devices: expected a list of device paths"),
    ({"boot-partition": {"enabled": True}}, "block-meta.boot-partition: refused"),
])
def test_what_simple_mode_cannot_honour_is_refused_before_any_disk_is_touched(section, message):
    with pytest.raises(ConfigInvalid, match=message):
        settings(section)


@pytest.mark.parametrize("wanted,efi,machine,kind", [
    (None, True, "x86_64", "uefi"),
    (None, False, "x86_64", "mbr"),
    (None, False, "aarch64", "gpt"),  # curtin: arm64 without UEFI gets GPT
    ("msdos", True, "x86_64", "mbr"),
    ("gpt", False, "x86_64", "gpt"),
])
def test_the_table_kind_is_curtins(tmp_path, wanted, efi, machine, kind):
    efi_dir = tmp_path / "efi"
    if efi:
        efi_dir.mkdir()
    assert platform(BlockMetaSettings(wanted), str(efi_dir), machine) == kind
