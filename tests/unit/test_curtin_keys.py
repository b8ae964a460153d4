"""The conformance table (docs/curtin-keys.rst) against the validator, and every refusal it names."""

from __future__ import annotations

import logging
import os
import re

import pytest

from cloudinit_maaslike.config import keys, merge_configs
from cloudinit_maaslike.config.parse import KNOWN_TOP, parse_install_config
from cloudinit_maaslike.config.problems import ConfigInvalid

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "curtin-keys.rst")
LABEL = {"same as curtin": keys.SAME, "extended": keys.EXTENDED, "refused": keys.REFUSED}

# A value of each refused key that asks for the feature (refused), and one that turns it off (accepted).
ON_OFF = {
    "multipath": ({"mode": "enabled"}, {"mode": "disabled"}),
    "pollinate": ({"user_agent": {"site": "lab"}}, {"user_agent": False}),
    "snap": ({"commands": ["snap install x"]}, None),
    "livepatch": ({"token": "t"}, {}),
    "ubuntu_advantage": ({"token": "t"}, None),
    "ubuntu_pro": ({"token": "t"}, None),
    "timezone": ("Europe/Paris", ""),
    "locale": ("en_GB.UTF-8", None),
    "_ammend_centos_curthooks": (True, False),
    "kernel.remove": ("existing", None),
    "install.resume_data": ("/tmp/curtin-resume.json", None),
    "block-meta.boot-partition": ({"enabled": True, "fstype": "ext4"}, {"enabled": False}),
    "boot.alternatives": (["default"], None),
}


def documented():
    with open(DOC, encoding="utf-8") as handle:
        text = handle.read()
    rows = re.findall(r"^   \* - ``([^`]+)``\n     - ([a-z ]+)$", text, re.MULTILINE)
    return {path: LABEL[label] for path, label in rows}


def registered():
    rows = [*keys.TOP, *(k for section, ks in keys.NESTED.items() if section != "grub" for k in ks)]
    return {k.path: k.status for k in rows}


def test_the_table_lists_every_key_the_validator_knows_with_the_same_meaning():
    table = documented()
    assert {p: s for p, s in table.items() if not p.startswith("apt.")} == registered()
    assert set(KNOWN_TOP) <= set(table)


def test_the_apt_rows_are_the_keys_the_apt_step_reads():
    from cloudinit_maaslike.curthooks import apt

    rows = {p: s for p, s in documented().items() if p.startswith("apt.")}
    expected = ({f"apt.{k}" for k in apt.KEYS} | {f"apt.primary[].{k}" for k in apt.MIRROR_KEYS}
                | {f"apt.sources.*.{k}" for k in apt.SOURCE_KEYS}
                | {f"apt.preferences[].{k}" for k in apt.PREFERENCE_KEYS})
    assert set(rows) == expected
    assert {p for p, s in rows.items() if s == keys.REFUSED} == {"apt.sources.*.keyid", "apt.sources.*.keyserver"}


def test_a_keyid_without_a_key_is_refused_with_its_path():
    with pytest.raises(ConfigInvalid, match=r"apt.sources.x.keyid: .*keyserver"):
        from cloudinit_maaslike.install.prepare import checked_config

        checked_config(merge_configs([{"apt": {"sources": {"x": {"source": "deb http://m.example/d bookworm main",
                                                                  "keyid": "0123456789ABCDEF"}}}}]))


def test_every_refused_key_has_a_test_value():
    refused = {p for p, s in registered().items() if s == keys.REFUSED}
    assert refused == set(ON_OFF)


def config_with(path, value):
    section, _, inner = path.partition(".")
    return merge_configs([{section: {inner: value}} if inner else {section: value}])


@pytest.mark.parametrize("path", sorted(ON_OFF))
def test_a_refused_key_stops_validation_with_its_path_and_reason(path):
    on, _ = ON_OFF[path]
    with pytest.raises(ConfigInvalid) as info:
        parse_install_config(config_with(path, on))
    assert f"{path}: refused: {keys.refusal(path, on)}" in str(info.value)


@pytest.mark.parametrize("path", sorted(ON_OFF))
def test_a_refused_key_whose_value_turns_it_off_is_accepted(path):
    _, off = ON_OFF[path]
    parse_install_config(config_with(path, off))


@pytest.mark.parametrize("key", ["config", "layout", "disks"])
def test_a_layout_at_the_top_level_is_refused_rather_than_falling_back_to_simple_mode(key):
    with pytest.raises(ConfigInvalid, match=rf"{key}: a storage key at the top level: without `storage:`"):
        parse_install_config(merge_configs([{key: [{"type": "disk", "id": "sda"}]}]))


def test_unknown_nested_keys_are_warned_about_with_their_full_path(caplog):
    with caplog.at_level(logging.WARNING):
        parse_install_config(merge_configs([{"kernel": {"flavour": "linux-image-amd64"}, "boot": {"timeout": 3},
                                             "curthooks": {"mystery": 1}}]))
    for path in ("kernel.flavour", "boot.timeout", "curthooks.mystery"):
        assert f"{path}: unknown key, ignored" in caplog.text


def test_grub_and_boot_together_are_refused_as_curtin_refuses_them():
    with pytest.raises(ConfigInvalid, match="grub: both grub and boot are given"):
        parse_install_config(merge_configs([{"boot": {"terminal": "console"}, "grub": {"install_devices": []}}]))


def test_apt_legacy_conflicts_are_found_before_any_stage_runs():
    from cloudinit_maaslike.install.prepare import checked_config

    with pytest.raises(ConfigInvalid, match="apt_proxy"):
        checked_config(merge_configs([{"apt_proxy": "http://a.example:3128", "apt": {"proxy": "http://b.example:3128"}}]))


def test_apply_net_commands_run_as_the_commands_of_a_stage_named_apply_net():
    """curtin's apply_net_commands: a stage like any other, when the stage list names it."""
    cfg = parse_install_config(merge_configs([{"stages": ["apply_net"],
                                               "apply_net_commands": {"10": ["ip", "link"]}}]))
    (stage,) = cfg.stages
    assert stage.name == "apply_net" and [c.argv for c in stage.commands] == [("ip", "link")]


def test_verbosity_and_proxies_reach_the_commands_environment(tmp_path):
    from cloudinit_maaslike.install.environment import command_environment
    from cloudinit_maaslike.install.workdir import create_workdir

    raw = merge_configs([{"verbosity": 2, "proxy": {"http_proxy": "http://p:3128", "no_proxy": "10.0.0.0/8"}}])
    cfg = parse_install_config(raw)
    work = create_workdir(raw, base=str(tmp_path), target=str(tmp_path / "target"))
    env = command_environment(cfg, work, "cmd-install", base={})
    assert env["CURTIN_VERBOSITY"] == "2"
    assert (env["http_proxy"], env["no_proxy"]) == ("http://p:3128", "10.0.0.0/8")
