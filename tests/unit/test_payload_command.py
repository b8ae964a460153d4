"""Packed commands read the way curtin's argparse reads them."""

import pytest

from cloudinit_maaslike.payload import PayloadError
from cloudinit_maaslike.payload.command import parse_install_command


def parse(*argv):
    command = parse_install_command(tuple(argv))
    return list(command.options), list(command.sources)


def test_maas_command():
    options, sources = parse("curtin", "--install-deps", "install",
                             "--config=configs/config-000.cfg", "--config=configs/config-001.cfg", "http://x/i")
    assert options == [("config", "configs/config-000.cfg"), ("config", "configs/config-001.cfg")]
    assert sources == ["http://x/i"]


@pytest.mark.parametrize("argv", [
    ["install", "--config=a.cfg"],
    ["install", "--config", "a.cfg"],
    ["install", "-c", "a.cfg"],
    ["install", "-ca.cfg"],
    ["install", "-c=a.cfg"],
    ["install", "--conf=a.cfg"],  # argparse accepts unambiguous prefixes
    ["-c", "a.cfg", "install"],  # curtin's main parser takes --config too
    ["-vvc", "a.cfg", "install"],
    ["-vv", "--config=a.cfg", "install"],
    ["--showtrace", "--log-file", "/tmp/l", "--config=a.cfg", "install"],
])
def test_config_spellings(argv):
    options, sources = parse("curtin", *argv, "src")
    assert options == [("config", "a.cfg")]
    assert sources == ["src"]


def test_sets_and_configs_keep_their_interleaved_order():
    options, _ = parse("curtin", "--set", "a=1", "install", "-c", "x.cfg", "--set=b/c=json:[1]",
                       "--config", "y.cfg", "--set", "d=4")
    assert options == [("set", "a=1"), ("config", "x.cfg"), ("set", "b/c=json:[1]"),
                       ("config", "y.cfg"), ("set", "d=4")]


def test_sources_in_order_and_after_double_dash():
    _, sources = parse("curtin", "install", "one", "--set", "k=v", "two", "--", "--three", "-")
    assert sources == ["one", "two", "--three", "-"]


def test_argv0_may_be_a_path_to_curtin():
    assert parse("./bin/curtin", "install", "s")[1] == ["s"]


@pytest.mark.parametrize("argv,problem", [
    ([], "does not run curtin"),
    (["sh", "-c", "curl x | sh"], "does not run curtin \\(it runs 'sh'\\)"),
    (["curtin"], "runs curtin nothing, not curtin install"),
    (["curtin", "extract", "install"], "runs curtin 'extract', not curtin install"),
    (["curtin", "install", "--config"], "--config has no value"),
    (["curtin", "install", "--set", "--config=x"], "--set has no value"),
    (["curtin", "install", "-v"], "option -v, which curtin does not accept there"),
    (["curtin", "install", "--bogus", "s"], "option --bogus, which curtin does not accept"),
    (["curtin", "--s=1", "install"], "ambiguous"),
    (["curtin", "--showtrace=yes", "install"], "--showtrace takes no value"),
    (["curtin", "install", "--help"], "--help, not an install"),
    (["curtin", "-h"], "--help, not an install"),
])
def test_commands_curtin_would_refuse_are_refused(argv, problem):
    with pytest.raises(PayloadError, match=problem):
        parse_install_command(tuple(argv))
