import logging

import pytest

from cloudinit_maaslike.config import merge_configs
from cloudinit_maaslike.config.load import parse_config_text
from cloudinit_maaslike.config.parse import parse_install_config
from cloudinit_maaslike.config.problems import ConfigInvalid
from cloudinit_maaslike.errors import ConfigError


def test_dicts_merge_deep_and_lists_replace():
    merged = merge_configs([
        {"install": {"log_file": "/a"}, "late_commands": {"x": ["a"]}, "post": [1, 2]},
        {"install": {"error_tarfile": "/b"}, "late_commands": {"y": "b"}, "post": [3]},
    ])
    assert merged["install"]["log_file"] == "/a" and merged["install"]["error_tarfile"] == "/b"
    assert merged["install"]["save_install_log"] == "/root/curtin-install.log"  # builtin default
    assert merged["late_commands"] == {"builtin": [], "x": ["a"], "y": "b"}
    assert merged["post"] == [3]


def test_set_values_and_json():
    merged = merge_configs([{}], sets=["install/unmount=disabled", "a/b/c=json:{\"d\": [1, 2]}",
                                       "flag=json:true"])
    assert merged["install"]["unmount"] == "disabled"
    assert merged["a"] == {"b": {"c": {"d": [1, 2]}}} and merged["flag"] is True
    with pytest.raises(ConfigError, match="invalid JSON"):
        merge_configs([{}], sets=["a=json:{nope"])
    with pytest.raises(ConfigError, match="KEY/PATH=VALUE"):
        merge_configs([{}], sets=["novalue"])


def test_positional_sources_are_named_like_curtin():
    merged = merge_configs([{"sources": {"05_mine": "tgz:http://a"}}], sources=["http://b", "cp:///c"])
    assert merged["sources"] == {"05_mine": "tgz:http://a", "01_cmdline": "http://b",
                                 "02_cmdline": "cp:///c"}


def test_legacy_http_proxy_moves():
    merged = merge_configs([{"http_proxy": "http://p:3128"}])
    assert merged["proxy"]["http_proxy"] == "http://p:3128" and "http_proxy" not in merged


def test_commands_sorted_skipping_falsy():
    cfg = parse_install_config(merge_configs([{"early_commands": {
        "b": "echo b", "a": ["echo", 1], "aa": None, "c": "", "builtin": ["curtin", "hook"]}}]))
    early = cfg.stage("early")
    assert [c.key for c in early.commands] == ["a", "b", "builtin"]
    assert early.commands[0].argv == ("echo", "1") and early.commands[1].shell == "echo b"
    assert early.commands[2].is_builtin_form
    assert cfg.stage("partitioning").commands[0].argv == ("curtin", "block-meta", "simple")


def test_builtin_null_disables_a_builtin():
    cfg = parse_install_config(merge_configs([{"curthooks_commands": {"builtin": None}}]))
    assert cfg.stage("curthooks").commands == ()


def test_every_problem_reported_at_once_with_paths():
    raw = merge_configs([{
        "late_commands": {"x": 5, "y": ["ok", {"no": 1}]},
        "reporting": {"maas": {"type": "webhook", "endpoint": "ftp://x"},
                      "other": {"type": "carrier-pigeon"}},
        "reporter": {"maas": {"url": "http://m/", "consumer_key": "c"}},
        "stages": ["early", "late", "late"],
    }])
    with pytest.raises(ConfigInvalid) as info:
        parse_install_config(raw)
    paths = [p.path for p in info.value.problems]
    assert paths == ["late_commands.x", "late_commands.y[1]", "stages[2]", "reporting.maas.endpoint",
                     "reporting.other.type", "reporter.maas.token_key"]
    assert "6 problems" in str(info.value)


def test_unknown_keys_warned_with_path(caplog):
    with caplog.at_level(logging.WARNING):
        parse_install_config(merge_configs([{"mystery": {}, "install": {"log_fiel": "x"},
                                             "mystery_commands": {"a": "true"}}]))
    assert "mystery: unknown key" in caplog.text
    assert "install.log_fiel: unknown key" in caplog.text
    assert "mystery_commands: unknown key" in caplog.text


@pytest.mark.parametrize("typo,meant", [("stoarge", "storage"), ("swp", "swap"), ("kernle", "kernel"),
                                        ("instal", "install"), ("sourcesx", "sources"),
                                        ("late_command", "late_commands"), ("netwokr", "network")])
def test_a_top_level_typo_is_an_error_that_says_what_was_meant(typo, meant):
    """A misspelt storage: would otherwise fall back to simple mode and wipe the first suitable disk."""
    with pytest.raises(ConfigInvalid, match=rf"{typo}: unknown key; did you mean '{meant}'\?"):
        parse_install_config(merge_configs([{typo: {}}]))


def test_custom_stage_commands_are_known():
    cfg = parse_install_config(merge_configs([{"stages": ["early", "mine"], "mine_commands": {"a": "x"}}]))
    assert [s.name for s in cfg.stages] == ["early", "mine"]


def test_reporting_and_power_parsed():
    cfg = parse_install_config(merge_configs([{
        "reporting": {"maas": {"type": "webhook", "endpoint": "http://m/status/x", "consumer_key": "c",
                               "token_key": "t", "token_secret": "s", "timeout": 3,
                               "retries": [1, 2, 4]},
                      "logging": None},
        "reporter": {"maas": {"url": "http://m/?op=signal", "consumer_key": "c", "token_key": "t",
                              "token_secret": "s"}},
        "power_state": {"mode": "poweroff", "delay": "+5", "message": "bye"},
        "install": {"unmount": "disabled"},
    }]))
    (hook,) = cfg.webhooks
    assert (hook.timeout, hook.retries, hook.credentials.token_secret) == (3.0, 3, "s")
    assert cfg.log_reporting is False
    assert cfg.legacy_reporter.url == "http://m/?op=signal"
    assert (cfg.power_state.mode, cfg.power_state.delay) == ("poweroff", "+5")
    assert cfg.install.unmount is False


def test_config_text_errors_name_file_and_line():
    with pytest.raises(ConfigError) as info:
        parse_config_text("a: 1\nb: [\n", "/tmp/x.cfg")
    assert str(info.value).startswith("/tmp/x.cfg: ") and "line 3" in str(info.value)
    with pytest.raises(ConfigError, match="must be a mapping"):
        parse_config_text("- a\n", "/tmp/y.cfg")


def test_set_with_json_on_the_key_is_curtins_form():
    """--set 'json:stages=["extract"]' must mean a list, or every stage runs and the disk is wiped."""
    merged = merge_configs([{}], sets=['json:stages=["extract"]', 'json:a/b={"c": [1]}', "s=json-looking"])
    assert merged["stages"] == ["extract"] and merged["a"] == {"b": {"c": [1]}} and merged["s"] == "json-looking"
    assert [s.name for s in parse_install_config(merged).stages] == ["extract"]


def test_set_json_with_an_empty_key_merges_an_object_at_the_top():
    merged = merge_configs([{"install": {"unmount": "disabled"}}], sets=['json:={"install": {"target": "/t"}}'])
    assert merged["install"]["target"] == "/t" and merged["install"]["unmount"] == "disabled"
    with pytest.raises(ConfigError, match="needs a JSON object"):
        merge_configs([{}], sets=["json:=[1]"])


def test_the_old_value_prefix_still_works_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING):
        merged = merge_configs([{}], sets=["a=json:[1]"])
    assert merged["a"] == [1]
    assert "write --set 'json:a=…'" in caplog.text
