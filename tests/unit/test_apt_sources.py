"""apt sources: the image's own mirror is the default, and a template naming no mirror is refused."""

from __future__ import annotations

import logging

import pytest

from cloudinit_maaslike import aptsources
from cloudinit_maaslike.curthooks.apt import configure_apt
from cloudinit_maaslike.curthooks.context import HookContext, StepFailed

DEB822 = """\
# the image's archive
Types: deb deb-src
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main contrib

Enabled: no
Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
"""


def test_deb822_stanzas_keep_every_uri_and_skip_disabled_ones():
    found = aptsources.parse_deb822(DEB822)
    assert [s.uri for s in found] == ["http://mirror.example/debian", "http://security.example/debian-security"]
    assert found[0].types == ("deb", "deb-src") and found[1].components == ("main", "contrib")


def test_one_line_sources_skip_options_and_comments():
    found = aptsources.parse_one_line(
        "# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://a.example/debian bookworm main # tail\n"
        "deb-src http://b.example/debian bookworm main\nnot a source line\n")
    assert [(s.types, s.uri, s.suites) for s in found] == [
        (("deb",), "http://a.example/debian", ("bookworm",)),
        (("deb-src",), "http://b.example/debian", ("bookworm",))]


def test_primary_and_security_mirrors_are_told_apart():
    found = aptsources.parse_deb822(DEB822)
    assert aptsources.primary_mirror(found) == "http://mirror.example/debian"
    assert aptsources.security_mirror(found) == "http://security.example/debian-security"
    assert aptsources.primary_mirror([]) is None


def image(tmp_path, sources_file=True):
    (tmp_path / "etc/apt/sources.list.d").mkdir(parents=True)
    (tmp_path / "etc/os-release").write_text('VERSION_CODENAME=bookworm\n')
    if sources_file:
        (tmp_path / "etc/apt/sources.list.d/debian.sources").write_text(DEB822)
    return tmp_path


def context(target, apt):
    return HookContext(cfg={"apt": apt}, target=str(target), state={}, log=logging.getLogger("test"),
                       in_target=lambda argv, stdin: pytest.fail("nothing runs in the target"))


def test_a_sources_list_template_takes_the_images_own_mirrors_when_none_is_configured(tmp_path):
    target = image(tmp_path)
    configure_apt(context(target, {"preserve_sources_list": False,
                                   "sources_list": "deb $PRIMARY $RELEASE main\ndeb $SECURITY $RELEASE-security main"}))
    assert (target / "etc/apt/sources.list").read_text() == (
        "deb http://mirror.example/debian bookworm main\n"
        "deb http://security.example/debian-security bookworm-security main\n")


def test_a_configured_primary_wins_over_the_image(tmp_path):
    target = image(tmp_path)
    configure_apt(context(target, {"preserve_sources_list": False,
                                   "primary": [{"arches": ["default"], "uri": "http://local.example/debian"}],
                                   "sources_list": "deb $MIRROR $RELEASE main"}))
    assert (target / "etc/apt/sources.list").read_text() == "deb http://local.example/debian bookworm main\n"


def test_a_template_naming_a_mirror_nobody_gave_is_refused_before_writing(tmp_path):
    target = image(tmp_path, sources_file=False)
    with pytest.raises(StepFailed, match=r"apt: apt.sources_list uses \$PRIMARY, but neither apt.primary"):
        configure_apt(context(target, {"preserve_sources_list": False, "sources_list": "deb $PRIMARY $RELEASE main"}))
    assert not (target / "etc/apt/sources.list").exists()
