"""Preseed template lookup and rendering, held to MAAS's rules."""

import os

import pytest

from cloudinit_maaslike.server.templates import (
    Machine,
    TemplateFailed,
    TemplateLoader,
    TemplateNotFound,
    preseed_filenames,
    render,
)

NODE1 = Machine("amd64", "generic", "node1")


def write(directory, name, text):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "w") as handle:
        handle.write(text)


def test_ubuntu_names_interleave_the_names_without_osystem():
    # reference/maas.md §1's example, in order.
    assert list(preseed_filenames("curtin_userdata", "ubuntu", "jammy", NODE1, default=True)) == [
        "curtin_userdata_ubuntu_amd64_generic_jammy_node1",
        "curtin_userdata_amd64_generic_jammy_node1",
        "curtin_userdata_ubuntu_amd64_generic_jammy",
        "curtin_userdata_amd64_generic_jammy",
        "curtin_userdata_ubuntu_amd64_generic",
        "curtin_userdata_amd64_generic",
        "curtin_userdata_ubuntu_amd64",
        "curtin_userdata_amd64",
        "curtin_userdata_ubuntu",
        "curtin_userdata",
        "generic",
    ]


def test_other_systems_have_no_fallbacks_and_generic_only_by_default():
    assert list(preseed_filenames("curtin", "debian", "bookworm", NODE1)) == [
        "curtin_debian_amd64_generic_bookworm_node1",
        "curtin_debian_amd64_generic_bookworm",
        "curtin_debian_amd64_generic",
        "curtin_debian_amd64",
        "curtin_debian",
        "curtin",
    ]


def test_without_prefix_or_node_like_maas():
    assert list(preseed_filenames("", "ubuntu", "jammy", NODE1, default=True)) == [
        "ubuntu_amd64_generic_jammy_node1", "amd64_generic_jammy_node1",
        "ubuntu_amd64_generic_jammy", "amd64_generic_jammy",
        "ubuntu_amd64_generic", "amd64_generic",
        "ubuntu_amd64", "amd64",
        "ubuntu", "generic",
    ]
    # Enlistment: no node, empty osystem and release are joined as they are.
    assert list(preseed_filenames("enlist", "", "", None, default=True)) == [
        "enlist__", "enlist_", "enlist", "generic",
    ]


def test_most_specific_name_wins_within_a_location(tmp_path):
    d = str(tmp_path / "t")
    write(d, "curtin_userdata", "plain")
    write(d, "curtin_userdata_ubuntu_amd64", "arch")
    write(d, "curtin_userdata_amd64_generic_jammy_node1", "ubuntu-fallback-for-node1")
    loader = TemplateLoader([d])
    assert render(loader.load("curtin_userdata", "ubuntu", "jammy", NODE1), {}) == \
        "ubuntu-fallback-for-node1"
    other = Machine("amd64", "generic", "node2")
    assert render(loader.load("curtin_userdata", "ubuntu", "jammy", other), {}) == "arch"
    assert render(loader.load("curtin_userdata", "debian", "bookworm", other), {}) == "plain"


def test_locations_are_searched_before_names(tmp_path):
    mine, shipped = str(tmp_path / "mine"), str(tmp_path / "shipped")
    write(mine, "curtin_userdata", "operator's general one")
    write(shipped, "curtin_userdata_debian_amd64_generic_bookworm_node1", "shipped specific one")
    loader = TemplateLoader([mine, shipped])
    assert render(loader.load("curtin_userdata", "debian", "bookworm", NODE1), {}) == \
        "operator's general one"


def test_generic_is_the_last_resort_for_the_top_level_template(tmp_path):
    d = str(tmp_path / "t")
    write(d, "generic", "generic {{node_name}}")
    loader = TemplateLoader([d])
    assert render(loader.load("commissioning", "debian", "bookworm", NODE1), {"node_name": "n"}) == \
        "generic n"


def test_inherit_uses_the_node_names_but_never_generic(tmp_path):
    d = str(tmp_path / "t")
    write(d, "master_debian", "head {{self.body}} {{self.greeting()}} tail")
    write(d, "curtin", '{{inherit "master"}}{{def greeting}}hi {{name|escape.json}}{{enddef}}body')
    loader = TemplateLoader([d])
    assert render(loader.load("curtin", "debian", "bookworm", NODE1), {"name": "x"}) == \
        'head body hi "x" tail'

    write(d, "generic", "generic exists")
    write(d, "curtin", '{{inherit "missing"}}body')
    with pytest.raises(TemplateNotFound) as caught:
        render(loader.load("curtin", "debian", "bookworm", NODE1), {})
    assert caught.value.name == "missing" and d in str(caught.value)


def test_escape_filters_are_maas_ones(tmp_path):
    d = str(tmp_path / "t")
    write(d, "x", "{{v|escape.json}} {{v|escape.shell}}")
    out = render(TemplateLoader([d]).load("x", "debian", "", None), {"v": "it's \"q\""})
    assert out == "\"it's \\\"q\\\"\" 'it'\"'\"'s \"q\"'"


def test_an_edited_template_takes_effect_without_restart(tmp_path):
    d = str(tmp_path / "t")
    write(d, "curtin", "one")
    loader = TemplateLoader([d])
    assert render(loader.load("curtin", "debian", "bookworm", NODE1), {}) == "one"
    write(d, "curtin", "second")  # a different size, whatever the clock's resolution
    assert render(loader.load("curtin", "debian", "bookworm", NODE1), {}) == "second"
    write(d, "curtin_debian", "more specific, added later")
    assert render(loader.load("curtin", "debian", "bookworm", NODE1), {}) == \
        "more specific, added later"


def test_missing_broken_and_failing_templates_name_the_file(tmp_path):
    d = str(tmp_path / "t")
    loader = TemplateLoader([d])
    with pytest.raises(TemplateNotFound, match="no preseed template for 'curtin'"):
        loader.load("curtin", "debian", "bookworm", NODE1)
    write(d, "curtin", "{{if x}}never closed")
    with pytest.raises(TemplateFailed, match=r"curtin does not parse"):
        loader.load("curtin", "debian", "bookworm", NODE1)
    write(d, "curtin", "{{undefined_name}}")
    template = loader.load("curtin", "debian", "bookworm", NODE1)
    with pytest.raises(TemplateFailed, match=r"curtin failed: name 'undefined_name' is not defined"):
        render(template, {})


def test_shipped_templates_render_the_preseed_data(repo):
    loader = TemplateLoader([os.path.join(repo, "config", "preseeds")])
    for prefix in ("curtin", "commissioning", "enlist"):
        machine = None if prefix == "enlist" else NODE1
        assert render(loader.load(prefix, "debian", "bookworm", machine),
                      {"preseed_data": "#cloud-config\nx: 1\n"}) == "#cloud-config\nx: 1\n"
