"""Image cache keys: stable for an unchanged recipe, new for any change (no programs run)."""

from __future__ import annotations

import dataclasses
import re

from tests.harness import imagecache, images
from tests.harness.kernelcmdline import ephemeral_cmdline


def key(name: str, parent_key=None, deb_sha=None, **changes) -> str:
    recipe = dataclasses.replace(images.RECIPES[name], **changes)
    return imagecache.recipe_key(images.recipe_parts(recipe, parent_key, deb_sha))


def test_an_unchanged_recipe_has_the_same_key():
    assert key("target", "p" * 16) == key("target", "p" * 16)
    text = repr(images.recipe_parts(images.RECIPES["ephemeral"], "p" * 16, "d" * 64))
    assert not re.search(r" at 0x[0-9a-f]+", text)  # no object addresses in a key


def test_packages_parent_and_deb_each_change_the_key():
    base = key("target", "p" * 16)
    assert key("target", "q" * 16) != base
    assert key("target", "p" * 16, packages=images.TARGET_PACKAGES + ("vim",)) != base
    assert key("ephemeral", "p" * 16, "a" * 64) != key("ephemeral", "p" * 16, "b" * 64)


def test_the_initramfs_scripts_are_part_of_the_ephemeral_base_recipe():
    parts = images.recipe_parts(images.RECIPES["ephemeral-base"], "p" * 16, None)
    assert any(name.endswith("maaslike-rooturl") for name in parts["inputs"])


def test_recipes_chain_from_minbase():
    chain, name = [], "ephemeral"
    while name:
        chain.append(name)
        name = images.RECIPES[name].parent
    assert chain == ["ephemeral", "ephemeral-base", "target", "minbase"]
    assert "python3-cffi-backend" in images.TARGET_PACKAGES  # machine.md: debootstrap and cloud-init


def test_prune_keeps_the_new_build_and_other_names(tmp_path):
    for name in ("ephemeral-0123456789abcdef", "ephemeral-fedcba9876543210",
                 "ephemeral-base-0123456789abcdef"):
        (tmp_path / name).mkdir()
    (tmp_path / "ephemeral-fedcba9876543210.log").write_text("a failed build")
    (tmp_path / "ephemeral-0123456789abcdef.log").write_text("this build")
    imagecache.prune(imagecache.CacheSlot(str(tmp_path), "ephemeral", "0123456789abcdef"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ephemeral-0123456789abcdef", "ephemeral-0123456789abcdef.log", "ephemeral-base-0123456789abcdef"]


def test_ephemeral_cmdline_follows_maas_order():
    line = ephemeral_cmdline("http://10.0.2.2:5248", "abc123", "node1",
                             "http://10.0.2.2:5248/images/squashfs", "01-52-54-00-12-34-56")
    words = line.split()
    assert words[:4] == ["nomodeset", "root=squash:http://10.0.2.2:5248/images/squashfs",
                         "ip=::::node1:BOOTIF", "ip6=off"]
    assert "ci.ds=MAASLike" in words
    assert ("cloud-config-url=http://10.0.2.2:5248/MAAS/metadata/latest/by-id/abc123/?op=get_preseed"
            in words)
    assert words.index("ro") > words.index("ci.ds=MAASLike")
    assert words[-1] == "BOOTIF=01-52-54-00-12-34-56"
    assert "ds=MAASLike" in ephemeral_cmdline("http://h", "i", "n", "http://h/s", "01-aa",
                                              cloudinit_major=25).split()
