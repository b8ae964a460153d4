"""power_state's command really run through sh: the blocking file is read after curtin's delay."""

from __future__ import annotations

import subprocess
import time

from cloudinit_maaslike.config.model import PowerState
from cloudinit_maaslike.install import finish


def test_the_blocking_file_is_read_after_the_delay(tmp_path, monkeypatch):
    """Created during the delay, it still stops the shutdown (the command really runs, through sh)."""
    block = tmp_path / "block-curtin-poweroff"
    monkeypatch.setattr(finish, "BLOCK_POWER_FILE", str(block))
    record = tmp_path / "ran"
    argv = finish.power_command(PowerState("reboot", "0.5"))
    argv[argv.index("shutdown"):] = ["touch", str(record)]
    started = subprocess.Popen(argv)
    time.sleep(0.1)
    block.touch()
    assert started.wait(10) == 0 and not record.exists()
    block.unlink()
    assert subprocess.run(argv).returncode == 0 and record.exists()
