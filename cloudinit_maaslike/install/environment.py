"""The environment every stage command and hook sees: curtin's contract.

``WORKING_DIR``, ``OUTPUT_FSTAB``, ``OUTPUT_INTERFACES``,
``OUTPUT_NETWORK_CONFIG``, ``OUTPUT_NETWORK_STATE``, ``TARGET_MOUNT_POINT``,
``CONFIG``, ``CURTIN_REPORTSTACK``, ``CURTIN_STACKTRACE``,
``CURTIN_VERBOSITY`` and the proxies, as curtin sets them; ``PATH`` leads
with a ``curtin`` command (so ``curtin in-target`` works inside commands) and
``PYTHONPATH`` with the curtin package a MAAS payload carried (image hooks
``import curtin``).  Added for image authors: ``CURTIN_PYTHON`` (the
interpreter the engine runs under) and ``OUTPUT_STORAGE_CONFIG``.

These variables are produced from the engine's context for compatibility;
the engine itself does not read them back.
"""

from __future__ import annotations

import os
import sys
from typing import Dict, Mapping, Optional, Sequence

from ..config.model import InstallConfig
from .workdir import WorkDir

PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def write_curtin_command(work: WorkDir) -> str:
    """A `curtin` on PATH that runs our curtin-compatible command line."""
    path = os.path.join(work.bin, "curtin")
    script = (
        "#!/bin/sh\n"
        "# curtin-compatible command of cloudinit-maaslike (in-target, install, builtins)\n"
        f'exec "{sys.executable}" -m cloudinit_maaslike.curtincmd "$@"\n'
    )
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(script)
    os.chmod(path, 0o755)
    return path


def _prepend(entries: Sequence[str], current: Optional[str]) -> str:
    parts = [e for e in entries if e]
    if current:
        parts += [p for p in current.split(os.pathsep) if p and p not in parts]
    return os.pathsep.join(parts)


def command_environment(
    config: InstallConfig,
    work: WorkDir,
    report_stack: str,
    python_paths: Sequence[str] = (),
    base: Optional[Mapping[str, str]] = None,
) -> Dict[str, str]:
    env = dict(os.environ if base is None else base)
    env.update({
        "WORKING_DIR": work.scratch,
        "OUTPUT_FSTAB": work.state_file("fstab"),
        "OUTPUT_INTERFACES": work.state_file("interfaces"),
        "OUTPUT_NETWORK_CONFIG": work.state_file("network_config"),
        "OUTPUT_NETWORK_STATE": work.state_file("network_state"),
        "OUTPUT_STORAGE_CONFIG": work.state_file("storage_config"),
        "TARGET_MOUNT_POINT": work.target,
        "CONFIG": work.config_file,
        "CURTIN_REPORTSTACK": report_stack,
        "CURTIN_STACKTRACE": "1" if config.showtrace else "0",
        "CURTIN_VERBOSITY": str(config.verbosity),
        "CURTIN_PYTHON": sys.executable,
        "MAASLIKE_WORKDIR": work.top,
    })
    env["PATH"] = _prepend([work.bin], env.get("PATH") or "/usr/sbin:/usr/bin:/sbin:/bin")
    # Our own package first (the `curtin` command must be the engine's version,
    # not a copy a payload carried), then the payload's members (`import curtin`).
    env["PYTHONPATH"] = _prepend([PACKAGE_PARENT, *python_paths], env.get("PYTHONPATH"))
    for key, value in config.proxy.items():
        env[key] = value
        env[key.upper()] = value
    return env
