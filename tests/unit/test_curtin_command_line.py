"""`curtin …` as curtin's main parser reads it: config options before the subcommand merge first."""

from __future__ import annotations

import pytest

from cloudinit_maaslike import curtincmd


@pytest.fixture
def installs(monkeypatch):
    seen = []
    monkeypatch.setattr(curtincmd, "_install", lambda args: seen.append(list(args)) or 0)
    return seen


def test_global_config_and_set_come_before_the_install_options(installs):
    code = curtincmd.main(["-vv", "--showtrace", "--log-file", "/tmp/x.log", "-c", "a.cfg", "--set=json:stages=[]",
                           "--install-deps", "--config=g.cfg", "install", "--config=b.cfg", "src"])
    assert code == 0
    assert installs == [["--config", "a.cfg", "--set", "json:stages=[]", "--config", "g.cfg",
                         "--config=b.cfg", "src"]]


@pytest.mark.parametrize("argv,problem", [(["--bogus", "install"], "unknown option '--bogus'"),
                                          (["-c"], "-c needs a value")])
def test_a_bad_global_option_is_one_line_and_exit_2(argv, problem, capsys):
    assert curtincmd.main(argv) == 2
    assert problem in capsys.readouterr().err
