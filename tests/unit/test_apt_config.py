"""The apt section as curtin applies it to a Debian target: files, commands, legacy keys and refusals."""

from __future__ import annotations

import dataclasses
import logging
import os
from types import MappingProxyType

import pytest

from cloudinit_maaslike import aptsources
from cloudinit_maaslike.config.keys import as_boolean
from cloudinit_maaslike.config.problems import Problems
from cloudinit_maaslike.curthooks import apt
from cloudinit_maaslike.curthooks.apt import AptMirror, AptSettings, configure_apt, parse, translate_legacy
from cloudinit_maaslike.curthooks.context import HookContext, StepFailed
from cloudinit_maaslike.curthooks.steps import CurthooksSettings
from cloudinit_maaslike.runner import Finished
from tests.untouchable import Untouchable

IMAGE_LIST = ("deb http://mirror.example/debian bookworm main contrib non-free\n"
              "deb http://mirror.example/debian bookworm-updates main contrib\n"
              "deb http://security.example/debian-security bookworm-security main\n")
ARMOURED = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBF\n-----END PGP PUBLIC KEY BLOCK-----\n\n"


class Recorder:
    """Stands in for the chroot: records argv and stdin; fails the first `failures` runs."""

    def __init__(self, failures: int = 0) -> None:
        self.calls: list[tuple[list[str], str | None]] = []
        self.failures = failures

    def __call__(self, argv, stdin):
        self.calls.append((list(argv), stdin))
        failed = len(self.calls) <= self.failures
        return Finished(returncode=1 if failed else 0, seconds=0.0, tail=("E: failed",) if failed else ())

    @property
    def argvs(self) -> list[list[str]]:
        return [argv for argv, _ in self.calls]


def image(tmp_path, sources_list=IMAGE_LIST, arch="amd64"):
    (tmp_path / "etc/apt/sources.list.d").mkdir(parents=True)
    (tmp_path / "etc/os-release").write_text("ID=debian\nVERSION_CODENAME=bookworm\n")
    if sources_list is not None:
        (tmp_path / "etc/apt/sources.list").write_text(sources_list)
    if arch:
        (tmp_path / "var/lib/dpkg").mkdir(parents=True)
        (tmp_path / "var/lib/dpkg/arch").write_text(f"{arch}\ni386\n")
    return tmp_path


def settings_of(cfg) -> AptSettings:
    """`cfg` parsed as the engine parses it at validation; a problem fails the test."""
    problems = Problems()
    found = parse(cfg, problems)
    problems.raise_if_any("test config")
    return found


def run(target, cfg, recorder=None):
    """configure_apt on `cfg` parsed beforehand; the raw dict is out of the step's reach."""
    recorder = recorder or Recorder()
    ctx = HookContext(cfg=Untouchable(), target=str(target), state={}, log=logging.getLogger("test"),
                      in_target=recorder, parsed=CurthooksSettings(apt=settings_of(cfg)))
    return configure_apt(ctx), recorder


def problems_of(cfg):
    found = Problems()
    parse(cfg, found)
    return [str(p) for p in found.errors], [str(p) for p in found.warnings]


# --- sources.list ------------------------------------------------------------------------------


def test_preserve_sources_list_defaults_to_true_so_a_template_alone_changes_nothing(tmp_path):
    target = image(tmp_path)
    run(target, {"apt": {"sources_list": "deb $MIRROR $RELEASE main\n"}})
    assert (target / "etc/apt/sources.list").read_text() == IMAGE_LIST
    assert not (target / "etc/apt/sources.list.curtin.orig").exists()


def test_a_template_kept_by_preserve_sources_list_is_warned_about():
    assert problems_of({"apt": {"sources_list": "deb $MIRROR $RELEASE main\n"}})[1] == [
        "apt.sources_list: ignored while apt.preserve_sources_list is true (curtin's default); set it to false "
        "to rewrite /etc/apt/sources.list"]
    assert problems_of({"apt": {"sources_list": "x", "preserve_sources_list": 0}})[1] == []


@pytest.mark.parametrize("value,expected", [
    (False, False), (None, False), (0, False), ("0", False), ("False", False), ("false", False),
    ("None", False), ("none", False), ("", False), (True, True), ("no", True), ("off", True), (1, True)])
def test_booleans_are_read_as_curtin_reads_them(value, expected):
    assert as_boolean(value) is expected


def test_a_template_is_rendered_and_the_original_kept_aside(tmp_path):
    target = image(tmp_path)
    (target / "usr/bin").mkdir(parents=True)
    (target / "usr/bin/cloud-init").write_text("")
    run(target, {"apt": {"preserve_sources_list": "false",
                         "primary": [{"arches": ["default"], "uri": "http://local.example/debian"}],
                         "sources_list": "deb $MIRROR $RELEASE main\ndeb $SECURITY $RELEASE-security main\n"}})
    written = target / "etc/apt/sources.list"
    assert written.read_text() == ("deb http://local.example/debian bookworm main\n"
                                   "deb http://local.example/debian bookworm-security main\n")
    assert oct(written.stat().st_mode & 0o777) == "0o644"
    assert (target / "etc/apt/sources.list.curtin.orig").read_text() == IMAGE_LIST
    assert (target / "etc/cloud/cloud.cfg.d/curtin-preserve-sources.cfg").read_text() == \
        "apt:\n  preserve_sources_list: true\n"


def test_without_cloud_init_no_preserve_file_is_written(tmp_path):
    target = image(tmp_path)
    run(target, {"apt": {"preserve_sources_list": False, "sources_list": "deb $MIRROR $RELEASE main\n"}})
    assert not (target / "etc/cloud/cloud.cfg.d/curtin-preserve-sources.cfg").exists()


def test_disabled_suites_are_commented_out_and_components_reduced_on_the_images_file(tmp_path):
    target = image(tmp_path)
    run(target, {"apt": {"preserve_sources_list": False, "disable_suites": ["updates"],
                         "disable_components": ["non-free", "main"]}})
    assert (target / "etc/apt/sources.list").read_text() == (
        "# deb http://mirror.example/debian bookworm main contrib non-free\n"
        "deb http://mirror.example/debian bookworm main contrib\n"
        "# deb http://mirror.example/debian bookworm-updates main contrib\n"
        "deb http://security.example/debian-security bookworm-security main\n")


def test_a_component_left_empty_drops_the_line_and_literal_suites_are_rendered():
    lines = aptsources.render_entries("deb http://m.example/d $RELEASE-extra contrib\n# note $MIRROR\n",
                                      {"RELEASE": "bookworm", "MIRROR": "x"})
    lines = aptsources.disable_suites(lines, ["$RELEASE-extra"], "bookworm")
    assert aptsources.format_lines(lines) == "# deb http://m.example/d bookworm-extra contrib\n# note $MIRROR\n"
    lines = aptsources.render_entries("deb [arch=amd64] http://m.example/d bookworm contrib # c\n", {})
    assert aptsources.format_lines(aptsources.disable_components(lines, ["contrib"])) == \
        "# deb [arch=amd64] http://m.example/d bookworm contrib # c\n"


def test_no_sources_list_to_edit_fails_before_writing(tmp_path):
    target = image(tmp_path, sources_list=None)
    with pytest.raises(StepFailed, match="has no /etc/apt/sources.list"):
        run(target, {"apt": {"preserve_sources_list": False, "proxy": "http://proxy.example:3128"}})
    assert not (target / "etc/apt/apt.conf.d").exists()


# --- mirrors ---------------------------------------------------------------------------------


def test_the_first_entry_naming_the_target_arch_wins_else_the_last_default(tmp_path):
    entries = [AptMirror(("default",), "http://one.example/d"),
               AptMirror(("arm64",), "http://arm.example/d"),
               AptMirror(("default",), "http://two.example/d"),
               AptMirror(("arm64",), "http://arm2.example/d")]
    assert apt.select_mirror(entries, "arm64") == "http://arm.example/d"
    assert apt.select_mirror(entries, "amd64") == "http://two.example/d"
    assert apt.select_mirror([AptMirror(("s390x",), "http://z.example/d")], "amd64") is None
    assert apt.select_mirror((), "amd64") is None


def test_search_takes_the_first_resolvable_url(monkeypatch):
    monkeypatch.setattr(apt, "is_resolvable", lambda url, timeout=5.0: "good" in url)
    entries = [AptMirror(("default",), search=("http://bad.example/d", "http://good.example/d"))]
    assert apt.select_mirror(entries, "amd64") == "http://good.example/d"
    assert apt.select_mirror([AptMirror(("default",), "http://u.example/d", ("x",))], "amd64") == "http://u.example/d"


def test_resolving_needs_a_host_name():
    assert apt.is_resolvable("file:///srv/mirror") is False


def test_the_arch_comes_from_the_target_else_from_the_host_machine(tmp_path, monkeypatch):
    target = image(tmp_path, arch="arm64")
    ctx = HookContext(cfg={}, target=str(target), state={}, log=logging.getLogger("test"), in_target=Recorder())
    assert apt.target_arch(ctx) == "arm64"
    os.unlink(target / "var/lib/dpkg/arch")
    monkeypatch.setattr(apt.os, "uname", lambda: os.uname_result(("Linux", "h", "6", "#1", "aarch64")))
    assert apt.target_arch(ctx) == "arm64"
    monkeypatch.setattr(apt.os, "uname", lambda: os.uname_result(("Linux", "h", "6", "#1", "x86_64")))
    assert apt.target_arch(ctx) == "amd64"


def test_security_defaults_to_primary_and_the_image_is_used_when_primary_is_unset(tmp_path):
    target = image(tmp_path, arch="arm64")
    ctx = HookContext(cfg={}, target=str(target), state={}, log=logging.getLogger("test"), in_target=Recorder())
    found = apt.mirror_variables(ctx, settings_of({"apt": {"primary": [{"arches": ["arm64"],
                                                                         "uri": "http://p.example/d"}]}}))
    assert found == {"RELEASE": "bookworm", "PRIMARY": "http://p.example/d", "MIRROR": "http://p.example/d",
                     "SECURITY": "http://p.example/d"}
    found = apt.mirror_variables(ctx, settings_of({"apt": {"security": [{"arches": ["default"],
                                                                          "uri": "http://s.example/d"}]}}))
    assert found["PRIMARY"] == "http://mirror.example/debian"
    assert found["SECURITY"] == "http://security.example/debian-security"


# --- proxy, conf, preferences ------------------------------------------------------------------


def test_proxy_lines_come_in_curtins_order(tmp_path):
    target = image(tmp_path)
    run(target, {"apt": {"https_proxy": "http://s.example:3", "ftp_proxy": "http://f.example:2",
                         "http_proxy": "http://h.example:1", "proxy": "http://p.example:0"},
                 "proxy": {"http_proxy": "http://env.example:9"}})
    assert (target / "etc/apt/apt.conf.d/90curtin-aptproxy").read_text() == (
        'Acquire::http::Proxy "http://p.example:0";\n'
        'Acquire::http::Proxy "http://h.example:1";\n'
        'Acquire::ftp::Proxy "http://f.example:2";\n'
        'Acquire::https::Proxy "http://s.example:3";\n')


def test_the_top_level_proxy_only_sets_the_environment_not_apt(tmp_path):
    target = image(tmp_path)
    done, _ = run(target, {"apt": {}, "proxy": {"http_proxy": "http://env.example:9"}})
    assert done == [] and not (target / "etc/apt/apt.conf.d/90curtin-aptproxy").exists()


def test_conf_and_preferences_are_written_and_removed_when_unset(tmp_path):
    target = image(tmp_path)
    run(target, {"apt": {"conf": "APT::Get::Assume-Yes \"true\";\n",
                         "preferences": [{"package": "*", "pin": "release a=stable", "pin-priority": 900},
                                         {"package": "vim", "pin": "origin x.example", "pin-priority": -1}],
                         "proxy": "http://p.example:0"}})
    assert (target / "etc/apt/apt.conf.d/94curtin-config").read_text() == 'APT::Get::Assume-Yes "true";\n'
    assert (target / "etc/apt/preferences.d/90curtin.pref").read_text() == (
        "Package: *\nPin: release a=stable\nPin-Priority: 900\n\n"
        "Package: vim\nPin: origin x.example\nPin-Priority: -1\n")
    done, _ = run(target, {"apt": {}})
    for name in ("apt.conf.d/94curtin-config", "preferences.d/90curtin.pref", "apt.conf.d/90curtin-aptproxy"):
        assert not (target / "etc/apt" / name).exists()
    assert "removed /etc/apt/apt.conf.d/90curtin-aptproxy" in done


def test_without_any_apt_config_nothing_is_touched(tmp_path):
    target = image(tmp_path)
    (target / "etc/apt/apt.conf.d").mkdir()
    (target / "etc/apt/apt.conf.d/90curtin-aptproxy").write_text("old\n")
    assert run(target, {})[0] == []
    assert (target / "etc/apt/apt.conf.d/90curtin-aptproxy").exists()


# --- sources -------------------------------------------------------------------------------------


def test_sources_are_appended_with_keys_and_apt_get_update_follows(tmp_path):
    target = image(tmp_path)
    (target / "etc/apt/sources.list.d/extra.list").write_text("deb http://old.example/d bookworm main\n")
    cfg = {"apt": {"sources": {
        "extra": {"source": "deb $MIRROR $RELEASE contrib\n\n", "key": ARMOURED},
        "other.sources": {"source": "deb http://o.example/d $RELEASE main", "key": "binary-ish"},
        "keyonly": {"key": ARMOURED, "filename": "/etc/apt/elsewhere.repo"},
        "abs": {"source": "deb http://a.example/d bookworm main", "filename": "/etc/apt/sources.list"}}}}
    done, recorder = run(target, cfg)
    assert (target / "etc/apt/sources.list.d/extra.list").read_text() == (
        "deb http://old.example/d bookworm main\ndeb http://mirror.example/debian bookworm contrib\n")
    assert (target / "etc/apt/sources.list.d/other.list").read_text() == "deb http://o.example/d bookworm main\n"
    assert (target / "etc/apt/trusted.gpg.d/extra.asc").read_text() == ARMOURED.rstrip()
    assert (target / "etc/apt/trusted.gpg.d/other.sources.gpg").read_bytes() == b"binary-ish"
    assert (target / "etc/apt/trusted.gpg.d/elsewhere.repo.asc").exists()
    assert not (target / "etc/apt/elsewhere.list").exists()
    assert (target / "etc/apt/sources.list").read_text() == IMAGE_LIST + "deb http://a.example/d bookworm main\n"
    assert recorder.argvs == [list(apt.UPDATE)]
    assert done[-1] == "apt-get update"
    run(target, cfg)
    assert (target / "etc/apt/sources.list.d/extra.list").read_text().count("contrib") == 1


def test_apt_get_update_is_retried_three_times(tmp_path, monkeypatch):
    target = image(tmp_path)
    slept: list[float] = []
    monkeypatch.setattr(apt.time, "sleep", slept.append)
    _, recorder = run(target, {"apt": {"sources": {}}}, Recorder(failures=2))
    assert recorder.argvs == [list(apt.UPDATE)] * 3 and slept == [1, 2]
    slept.clear()
    with pytest.raises(StepFailed, match="apt.sources: apt-get --quiet"):
        run(target, {"apt": {"sources": {}}}, Recorder(failures=9))
    assert slept == [1, 2, 3]


def test_a_source_naming_an_unknown_mirror_fails_before_any_write(tmp_path):
    target = image(tmp_path, sources_list=None)
    with pytest.raises(StepFailed, match=r"apt.sources.x uses \$MIRROR"):
        run(target, {"apt": {"proxy": "http://p.example:1", "sources": {"x": {"source": "deb $MIRROR b main"}}}})
    assert not (target / "etc/apt/apt.conf.d").exists()


# --- debconf -------------------------------------------------------------------------------------

STATUS = """Package: cloud-init
Status: install ok installed
Version: 22.4

Package: openssh-server
Status: install ok installed

Package: removed-thing
Status: deinstall ok config-files
"""
SELECTIONS = {"b": "openssh-server openssh-server/permit-root-login boolean false",
              "a": "cloud-init cloud-init/maas-metadata-credentials string token_secret=hush\n# comment line",
              "c": "removed-thing removed-thing/q string x"}


def test_debconf_selections_are_set_and_cloud_init_reconfigured(tmp_path, caplog):
    target = image(tmp_path)
    (target / "var/lib/dpkg/status").write_text(STATUS)
    (target / "etc/cloud/cloud.cfg.d").mkdir(parents=True)
    (target / "etc/cloud/cloud.cfg.d/90_dpkg.cfg").write_text("datasource_list: [ NoCloud ]\n")
    (target / "etc/cloud/cloud.cfg.d/50-keep.cfg").write_text("{}\n")
    with caplog.at_level(logging.DEBUG):
        _, recorder = run(target, {"debconf_selections": SELECTIONS})
    assert recorder.calls[0] == (["debconf-set-selections"], "\n".join(SELECTIONS[k] for k in "abc") + "\n")
    assert recorder.argvs[1:] == [["dpkg-reconfigure", "--frontend=noninteractive", "cloud-init"]]
    assert not (target / "etc/cloud/cloud.cfg.d/90_dpkg.cfg").exists()
    assert (target / "etc/cloud/cloud.cfg.d/50-keep.cfg").exists()
    assert "preseeded for openssh-server; only cloud-init is reconfigured now" in caplog.text
    assert "hush" not in caplog.text


def test_without_cloud_init_installed_nothing_is_reconfigured(tmp_path):
    target = image(tmp_path)
    (target / "var/lib/dpkg/status").write_text("Package: openssh-server\nStatus: install ok installed\n")
    (target / "etc/cloud/cloud.cfg.d").mkdir(parents=True)
    (target / "etc/cloud/cloud.cfg.d/90_dpkg.cfg").write_text("x\n")
    _, recorder = run(target, {"apt": {"debconf_selections": SELECTIONS}})
    assert recorder.argvs == [["debconf-set-selections"]]
    assert (target / "etc/cloud/cloud.cfg.d/90_dpkg.cfg").exists()


# --- legacy keys and validation ----------------------------------------------------------------


def test_legacy_keys_are_translated_as_curtin_does():
    found = translate_legacy({"apt_proxy": "http://p.example:1", "debconf_selections": {"a": "x"},
                              "apt_mirrors": {"ubuntu_archive": "http://m.example/d",
                                              "ubuntu_security": "http://s.example/d"}})
    assert found == {"proxy": "http://p.example:1", "debconf_selections": {"a": "x"},
                     "primary": [{"arches": ["default"], "uri": "http://m.example/d"}],
                     "security": [{"arches": ["default"], "uri": "http://s.example/d"}],
                     "preserve_sources_list": False}
    assert translate_legacy({"proxy": {"http_proxy": "x"}}) is None


def test_legacy_conflicts_are_errors_with_their_key():
    errors, _ = problems_of({"apt_proxy": "a", "apt_mirrors": {"ubuntu_archive": "m"}, "debconf_selections": {},
                             "apt": {"proxy": "b", "mirrors": {}, "preserve_sources_list": "yes",
                                     "debconf_selections": {}}})
    assert [e.split(":")[0] for e in errors] == ["apt_proxy", "apt_mirrors", "apt_mirrors", "debconf_selections"]
    errors, _ = problems_of({"apt_mirrors": {"ubuntu_archive": "m"}, "apt": {"preserve_sources_list": "false"}})
    assert errors == []


def test_unknown_keys_are_warned_about_with_their_path():
    errors, warnings = problems_of({"apt": {
        "mirror_selection": {}, "primary": [{"arches": ["default"], "uri": "http://m.example/d", "search_dns": 1}],
        "sources": {"x": {"source": "deb http://x.example/d b main", "append": False}}}})
    assert errors == []
    assert warnings == ["apt.mirror_selection: not a key curtin reads; ignored",
                        "apt.primary[0].search_dns: not a key curtin reads; ignored",
                        "apt.sources.x.append: not a key curtin reads; ignored"]


def test_refusals_name_the_key_and_why():
    errors, _ = problems_of({"apt": {"primary": [{"uri": "http://m.example/d"}], "sources": {
        "k": {"keyid": "ABCD", "source": "deb http://k.example/d b main"},
        "ppa": {"source": "ppa:someone/thing"},
        "p": {"source": "proposed"}}}})
    assert errors == [
        "apt.primary[0].arches: required: a list of dpkg architectures or 'default' (curtin fails without it)",
        "apt.sources.k.keyid: fetching keys from a keyserver is not supported; give the key inline with key:",
        "apt.sources.ppa.source: 'ppa:someone/thing' would go to add-apt-repository, Ubuntu's tool: not "
        "supported; give the one-line source and its key instead",
        "apt.sources.p.source: the proposed pocket is Ubuntu's; give the one-line source instead"]
    errors, _ = problems_of({"apt": {"add_apt_repo_match": "", "sources": {}}})
    assert errors == ["apt.add_apt_repo_match: must be a pattern when apt.sources is set (curtin fails)"]


def test_shapes_are_checked():
    errors, _ = problems_of({"apt": {"sources": [], "preferences": [{"package": "x"}],
                                     "debconf_selections": {"a": 1}, "disable_suites": "updates"}})
    assert errors == ["apt.disable_suites: expected a list of names",
                      "apt.preferences[0].pin: required (curtin fails without it)",
                      "apt.preferences[0].pin-priority: required (curtin fails without it)",
                      "apt.sources: expected a mapping of name: {source: 'deb …', key: …}",
                      "apt.debconf_selections.a: expected debconf-set-selections lines"]
    assert problems_of({"apt": "x"})[0] == ["apt: expected a mapping"]


def test_the_key_tables_cover_what_is_read():
    assert {"preserve_sources_list", "primary", "security", "sources", "debconf_selections"} <= set(apt.KEYS)
    assert all(key.startswith("sources.") for key in apt.REFUSED)


# --- parsed once -------------------------------------------------------------------------------

EVERYTHING = {
    "apt": {"preserve_sources_list": False,
            "primary": [{"arches": ["default"], "uri": "http://local.example/debian"}],
            "security": [{"arches": ["amd64"], "uri": "http://sec.example/debian-security"}],
            "sources_list": "deb $MIRROR $RELEASE main contrib\ndeb $SECURITY $RELEASE-security main\n"
                            "deb $MIRROR $RELEASE-updates main\n",
            "disable_suites": ["updates"], "disable_components": ["contrib"],
            "proxy": "http://p.example:0", "https_proxy": "http://s.example:3", "conf": "APT::Get::Assume-Yes \"1\";\n",
            "preferences": [{"package": "*", "pin": "release a=stable", "pin-priority": 900}],
            "sources": {"extra": {"source": "deb $MIRROR $RELEASE-extra main", "key": ARMOURED}}},
    "debconf_selections": {"a": "openssh-server openssh-server/permit-root-login boolean false"},
}


def files_under(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_step_reads_the_parsed_settings_never_the_raw_config(tmp_path):
    from cloudinit_maaslike.curthooks.steps import parse_curthooks

    lazy, handed = image(tmp_path / "lazy"), image(tmp_path / "handed")
    log = logging.getLogger("test")
    lazy_recorder, handed_recorder = Recorder(), Recorder()
    # parsed on demand from the raw dict, as when nothing is handed in
    lazy_done = configure_apt(HookContext(cfg=EVERYTHING, target=str(lazy), state={}, log=log,
                                          in_target=lazy_recorder))
    problems = Problems()
    parsed = parse_curthooks(EVERYTHING, problems)
    assert problems.errors == []
    handed_done = configure_apt(HookContext(cfg=Untouchable(), target=str(handed), state={}, log=log,
                                            in_target=handed_recorder, parsed=parsed))
    assert handed_done == lazy_done
    assert handed_recorder.calls == lazy_recorder.calls
    assert files_under(handed) == files_under(lazy)
    assert (handed / "etc/apt/sources.list").read_text() == (
        "# deb http://local.example/debian bookworm main contrib\n"
        "deb http://local.example/debian bookworm main\n"
        "deb http://sec.example/debian-security bookworm-security main\n"
        "# deb http://local.example/debian bookworm-updates main\n")
    assert (handed / "etc/apt/sources.list.d/extra.list").read_text() == \
        "deb http://local.example/debian bookworm-extra main\n"
    assert [argv for argv, _ in handed_recorder.calls] == [["debconf-set-selections"], list(apt.UPDATE)]


def test_parse_returns_frozen_typed_settings_with_the_legacy_keys_moved_in():
    found = settings_of({"apt_proxy": "http://p.example:1", "debconf_selections": {"a": "x"},
                         "apt_mirrors": {"ubuntu_archive": "http://m.example/d",
                                         "ubuntu_security": "http://s.example/d"}})
    assert found.configured and not found.preserve_sources_list
    assert found.primary == (AptMirror(("default",), "http://m.example/d"),)
    assert found.security == (AptMirror(("default",), "http://s.example/d"),)
    assert found.proxies == apt.AptProxies(proxy="http://p.example:1")
    assert isinstance(found.debconf_selections, MappingProxyType) and dict(found.debconf_selections) == {"a": "x"}
    assert found.sources is None and found.preferences == () and found.conf is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.conf = "x"  # type: ignore[misc]
    assert "token" not in repr(settings_of({"debconf_selections": {"a": "cloud-init x string token_secret=1"}}))


def test_no_apt_config_parses_to_the_untouched_default_and_an_empty_section_does_not():
    assert parse({"apt": None, "proxy": {"http_proxy": "x"}}, Problems()) == AptSettings()
    assert not AptSettings().configured
    empty = settings_of({"apt": {}})
    assert empty.configured and empty.preserve_sources_list and empty.sources is None
    assert settings_of({"apt": {"sources": {}}}).sources == ()
    assert settings_of({"apt": {"preserve_sources_list": None, "conf": ""}}).preserve_sources_list is False
    assert settings_of({"apt": {"conf": ""}}).conf is None


def test_sources_are_parsed_in_order_with_curtins_file_names():
    found = settings_of({"apt": {"sources": {
        "b": {"source": "deb http://b.example/d bookworm main", "filename": "/etc/apt/other.repo"},
        1: {"key": b"\x99k"},
        "c.list": {"source": "deb http://c.example/d bookworm main", "filename": ""}}}})
    assert found.sources is not None
    assert [s.name for s in found.sources] == ["b", "1", "c.list"]
    assert [s.paths() for s in found.sources] == [("etc/apt/other.list", "other.repo"),
                                                  ("etc/apt/sources.list.d/1.list", "1"),
                                                  ("etc/apt/sources.list.d/c.list", "c.list")]
    assert found.sources[1] == apt.AptSource(name="1", key=b"\x99k")


def test_a_template_is_rendered_from_typed_values_alone():
    assert apt.render_sources_list("deb $MIRROR $RELEASE main contrib\n",
                                   {"MIRROR": "http://m.example/d", "RELEASE": "bookworm"},
                                   disable_components=("contrib",)) == (
        "# deb http://m.example/d bookworm main contrib\ndeb http://m.example/d bookworm main\n")
    assert apt.preferences_text(()) is None


def test_apt_is_parsed_once_with_the_other_curthooks_sections():
    from cloudinit_maaslike.curthooks.steps import parse_curthooks

    problems = Problems()
    found = parse_curthooks({"apt": {"bogus": 1, "proxy": "http://p.example:0"}}, problems)
    assert found.apt.proxies.proxy == "http://p.example:0"
    assert [str(w) for w in problems.warnings] == ["apt.bogus: not a key curtin reads; ignored"]
    assert CurthooksSettings().apt == AptSettings()
