"""power_state as curtin runs it: sleep the delay, look for the blocking file, then shutdown now."""

from __future__ import annotations

import pytest

from cloudinit_maaslike.config import merge_configs
from cloudinit_maaslike.config.parse import parse_install_config
from cloudinit_maaslike.config.problems import ConfigInvalid
from cloudinit_maaslike.install import finish


@pytest.mark.parametrize("section,sleep,tail", [
    pytest.param({"mode": "reboot"}, "5", ["shutdown", "-r", "now"], id="curtin's default: five seconds"),
    pytest.param({"mode": "poweroff", "delay": "now"}, "0", ["shutdown", "-P", "now"], id="now"),
    pytest.param({"mode": "halt", "delay": "+3", "message": "bye"}, "3m", ["shutdown", "-H", "now", "bye"],
                 id="+N is minutes"),
    pytest.param({"mode": "reboot", "delay": 30}, "30", ["shutdown", "-r", "now"], id="a number is seconds"),
])
def test_the_power_command_is_curtins(section, sleep, tail):
    state = parse_install_config(merge_configs([{"power_state": section}])).power_state
    argv = finish.power_command(state)
    assert argv[:2] == ["sh", "-c"] and argv[3:] == ["curtin-poweroff", sleep, *tail]


@pytest.mark.parametrize("delay", ["soon", "+5m", "-1"])
def test_a_delay_sleep_cannot_take_is_refused(delay):
    with pytest.raises(ConfigInvalid, match=r"power_state.delay: expected 'now'"):
        parse_install_config(merge_configs([{"power_state": {"mode": "reboot", "delay": delay}}]))


def test_cloud_inits_condition_and_timeout_are_accepted_and_ignored_as_curtin_does():
    section = {"mode": "reboot", "delay": "now", "condition": "test ! -e /tmp/block-reboot", "timeout": 1800}
    state = parse_install_config(merge_configs([{"power_state": section}])).power_state
    assert finish.power_command(state)[3:] == ["curtin-poweroff", "0", "shutdown", "-r", "now"]


def test_after_kexec_systemd_reboots_into_the_loaded_kernel_and_anything_else_as_curtin(tmp_path, monkeypatch):
    monkeypatch.setattr(finish, "SYSTEMD_RUNNING", str(tmp_path / "systemd"))
    state = finish.PowerState("kexec", "now", "rebooting with kexec")
    assert finish.power_command(state)[3:] == ["curtin-poweroff", "0", "shutdown", "-r", "now",
                                               "rebooting with kexec"]
    (tmp_path / "systemd").mkdir()
    assert finish.power_command(state)[3:] == ["curtin-poweroff", "0", "systemctl", "kexec"]
