"""Running the storage tools: every failure says which command, on what, and why."""

from __future__ import annotations

import logging
from typing import Dict, Optional, Sequence

from .. import runner
from ..errors import MaaslikeError

LOG = logging.getLogger("cloudinit_maaslike.install")


class StorageError(MaaslikeError):
    """A storage step failed; the message names the device and the command."""

    exit_code = 3


def run(argv: Sequence[str], what: str, stdin: Optional[str] = None, timeout: float = 600,
        env: Optional[Dict[str, str]] = None) -> str:
    LOG.info("storage: %s", " ".join(argv))
    try:
        done = runner.run(argv, input=stdin, timeout=timeout, env=env)
    except runner.ProgramNotStarted as exc:
        raise StorageError(f"{what}: {exc}") from None
    except runner.TimeoutExpired:
        raise StorageError(f"{what}: {' '.join(argv)} did not finish in {timeout:.0f} s") from None
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        # tools often end with a generic "see --help": show the line before it too
        shown = " / ".join(lines[-2:]) if lines else "no output"
        raise StorageError(f"{what}: {' '.join(argv)} failed (exit {done.returncode}): {shown}")
    return done.stdout
