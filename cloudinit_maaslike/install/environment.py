"""The environment every stage command and hook sees: curtin's contract.

``WORKING_DIR``, ``OUTPUT_FSTAB``, ``OUTPUT_INTERFACES``,
``OUTPUT_NETWORK_CONFIG``, ``OUTPUT_NETWORK_STATE``, ``TARGET_MOUNT_POINT``,
``CONFIG``, ``CURTIN_REPORTSTACK``, ``CURTIN_STACKTRACE``,
``CURTIN_VERBOSITY`` and the proxies, as curtin sets them; every path is
absolute, because commands run from ``WORKING_DIR``, not from where the
install was started.  Added for image authors: ``CURTIN_PYTHON`` (the
interpreter the engine runs under) and ``OUTPUT_STORAGE_CONFIG``.

``PATH`` leads with a ``curtin`` command, so ``curtin in-target`` works
inside commands.  ``PYTHONPATH`` leads with the payload's members, as
curtin's own pack script sets it, because image hooks (packer-maas's
``curtin-hooks``) ``import curtin`` and expect the curtin MAAS sent.  Next
comes a directory holding nothing but a link to our package, so a hook can
still import ``cloudinit_maaslike``: never the directory our package is
installed in, because that is a whole ``site-packages`` (a venv's, or
dist-packages with the host's own curtin), whose modules would shadow the
image's and the host's for every Python program a command starts.

These variables are produced from the engine's context for compatibility;
the engine itself does not read them back.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from typing import Dict, Mapping, Optional, Sequence

from ..config.model import InstallConfig
from .workdir import WorkDir

PACKAGE_NAME = "cloudinit_maaslike"
PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_package_link(work: WorkDir) -> str:
    """`work.python`, holding only a link to this package (replaced if it points elsewhere)."""
    os.makedirs(work.python, exist_ok=True)
    link = os.path.join(work.python, PACKAGE_NAME)
    if os.path.islink(link) and os.readlink(link) == PACKAGE_DIR:
        return link
    fresh = link + ".new"
    if os.path.lexists(fresh):
        os.unlink(fresh)
    os.symlink(PACKAGE_DIR, fresh)
    os.replace(fresh, link)
    return link


def write_curtin_command(work: WorkDir) -> str:
    """A `curtin` on PATH that runs our curtin-compatible command line.

    It imports this package through the link directory (made here too)
    first: a payload packed by `maaslike pack` carries a copy of the package,
    possibly older, and that comes first on PYTHONPATH.  PYTHONPATH itself is
    left alone, so what the command starts sees what any command sees.
    """
    write_package_link(work)
    path = os.path.join(work.bin, "curtin")
    program = (f"import sys; sys.path.insert(0, {json.dumps(work.python)}); "
               "from cloudinit_maaslike.curtincmd import main; sys.exit(main())")
    script = (
        "#!/bin/sh\n"
        "# curtin-compatible command of cloudinit-maaslike (in-target, install, builtins)\n"
        f'exec {shlex.quote(sys.executable)} -c {shlex.quote(program)} "$@"\n'
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
    env["PYTHONPATH"] = _prepend([*python_paths, work.python], env.get("PYTHONPATH"))
    for key, value in config.proxy.items():
        env[key] = value
        env[key.upper()] = value
    return env
