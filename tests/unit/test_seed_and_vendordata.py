import os
import stat

import pytest

from cloudinit_maaslike.errors import ConfigError, MetadataError, SeedError
from cloudinit_maaslike.metadata import Metadata, decode_vendordata, read_seed, write_seed
from cloudinit_maaslike.metadata.tree import version_base


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_seed_round_trip_is_private(tmp_path):
    md = Metadata("node1", "node1.maas", ("ssh-rsa AAA k1", "ssh-ed25519 BBB k2"),
                  userdata_raw=b"#!/bin/bash\n\x00binary", vendordata_raw=b"cloud-init: x\n")
    seed = tmp_path / "seed"
    write_seed(str(seed), md)
    assert mode(seed) == 0o700 and mode(seed / "meta-data") == 0o700
    for name in ("meta-data/instance-id", "meta-data/public-keys", "user-data", "meta-data/vendor-data"):
        assert mode(seed / name) == 0o600
    again = read_seed(str(seed))
    assert again.instance_id == "node1" and again.public_keys == md.public_keys
    assert again.userdata_raw == md.userdata_raw and again.vendordata_raw == md.vendordata_raw
    assert read_seed("file://" + str(seed)).instance_id == "node1"


def test_optional_items_may_be_absent(tmp_path):
    write_seed(str(tmp_path), Metadata("n", "n.maas"))
    md = read_seed(str(tmp_path))
    assert md.userdata_raw is None and md.public_keys == () and md.vendordata_raw is None
    assert not (tmp_path / "user-data").exists()


def test_missing_or_empty_seed_is_none(tmp_path):
    assert read_seed(str(tmp_path / "nope")) is None
    assert read_seed(str(tmp_path)) is None


def test_seed_without_required_item_names_it(tmp_path):
    (tmp_path / "meta-data").mkdir()
    (tmp_path / "meta-data" / "instance-id").write_text("n")
    with pytest.raises(SeedError, match="meta-data/local-hostname"):
        read_seed(str(tmp_path))


@pytest.mark.parametrize("raw,expected", [
    (b'cloud-init: "#cloud-config\\nntp: {}\\n"', "#cloud-config\nntp: {}\n"),
    (b"#cloud-config\npackages: [a]\n", None),  # a dict without cloud-init key
    (b"- part1\n- part2\n", ["part1", "part2"]),
    (b"just a string", "just a string"),
    (b"", None),
    (None, None),
    (b"cloud-init: ''\n", None),
])
def test_vendordata_decoded_as_cloud_init_does(raw, expected):
    assert decode_vendordata(raw) == expected


def test_nested_dict_vendordata_is_dropped():
    assert decode_vendordata(b"cloud-init: {a: 1}\n") is None


def test_bad_yaml_vendordata_names_the_line():
    with pytest.raises(MetadataError, match="line 2"):
        decode_vendordata(b"a: 1\n b: [\n", "http://x/vendor-data")


@pytest.mark.parametrize("url,base", [
    ("http://h:5248/MAAS/metadata/", "http://h:5248/MAAS/metadata/2012-03-01"),
    ("http://h:5248/MAAS/metadata", "http://h:5248/MAAS/metadata/2012-03-01"),
    ("http://h:5248/MAAS/metadata/curtin", "http://h:5248/MAAS/metadata/curtin/2012-03-01"),
    ("http://h:5248/MAAS/metadata/latest/", "http://h:5248/MAAS/metadata/latest"),
    ("http://h:5248/MAAS/metadata/2012-03-01", "http://h:5248/MAAS/metadata/2012-03-01"),
    ("file:///srv/md", "file:///srv/md/2012-03-01"),
])
def test_version_base(url, base):
    assert version_base(url) == base


def test_seed_output_refuses_a_non_empty_directory_and_changes_nothing(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    os.chmod(tmp_path, 0o755)
    with pytest.raises(ConfigError, match=r"--output: .* is not empty; give an empty or new directory"):
        write_seed(str(tmp_path), Metadata("n", "n.maas"))
    assert os.listdir(tmp_path) == ["notes.txt"] and mode(tmp_path) == 0o755


def test_seed_output_refuses_a_link_and_leaves_where_it_points_alone(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o755)
    os.chmod(elsewhere, 0o755)
    (tmp_path / "seed").symlink_to(elsewhere)
    with pytest.raises(ConfigError, match="is a symbolic link"):
        write_seed(str(tmp_path / "seed"), Metadata("n", "n.maas"))
    assert os.listdir(elsewhere) == [] and mode(elsewhere) == 0o755


def _alias_bomb() -> bytes:
    lines = [b"l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        lines.append(b"l%d: &l%d [%s]" % (i, i, b", ".join([b"*l%d" % (i - 1)] * 9)))
    return b"\n".join(lines) + b"\n"


@pytest.mark.parametrize("bomb", [b"[" * 50000, _alias_bomb()])
def test_hostile_vendordata_is_one_refusal_not_a_crash(bomb):
    with pytest.raises(MetadataError, match="vendor-data is not usable YAML"):
        decode_vendordata(bomb, "http://x/vendor-data")
