"""The parts' sections are parsed once, at validation, and the stages use those objects."""

from __future__ import annotations

import pytest

from cloudinit_maaslike.config import merge_configs
from cloudinit_maaslike.config.parse import parse_install_config
from cloudinit_maaslike.install import blockmeta
from cloudinit_maaslike.install.prepare import checked_config
from cloudinit_maaslike.net.model import NetworkConfig
from cloudinit_maaslike.sources.spec import Source
from cloudinit_maaslike.storage.model import StorageConfig

STORAGE = {"version": 1, "config": [
    {"id": "sda", "type": "disk", "path": "/dev/sda", "ptable": "gpt", "wipe": "superblock"},
    {"id": "p1", "type": "partition", "device": "sda", "size": "1G"},
    {"id": "f1", "type": "format", "volume": "p1", "fstype": "ext4"},
    {"id": "m1", "type": "mount", "device": "f1", "path": "/"}]}
NETWORK = {"version": 1, "config": [{"type": "physical", "name": "eth0", "subnets": [{"type": "dhcp"}]}]}


def test_validation_keeps_each_parts_parsed_section():
    config = checked_config(merge_configs([{"storage": STORAGE, "network": NETWORK}], sources=["http://h/root.tgz"]))
    assert isinstance(config.parsed("storage"), StorageConfig)
    assert isinstance(config.parsed("network"), NetworkConfig)
    assert [type(s) for s in config.parsed("sources")] == [Source]
    with pytest.raises(TypeError):
        config.sections["storage"] = None  # read-only


def test_the_partitioning_plan_uses_the_parsed_layout(monkeypatch):
    config = checked_config(merge_configs([{"storage": STORAGE}]))
    monkeypatch.setattr(blockmeta, "parse_storage", lambda raw: pytest.fail("the layout was parsed again"))
    planned = []
    monkeypatch.setattr(blockmeta, "make_plan", lambda parsed: planned.append(parsed) or "plan")
    assert blockmeta.plan_storage(config) == (config.raw["storage"], "plan")
    assert planned == [config.parsed("storage")]


def test_a_section_not_validated_by_its_part_is_an_error_not_a_silent_default():
    config = parse_install_config(merge_configs([{"storage": STORAGE}]))  # no part validators
    with pytest.raises(LookupError, match="storage section was not validated"):
        config.parsed("storage")
    assert config.parsed("network", "none") == "none"
