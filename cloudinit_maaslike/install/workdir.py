"""The install's working directory, laid out as curtin lays it out.

``<top>/state/{config,fstab,network_config,network_state,interfaces,
storage_config}`` hold what commands and hooks exchange (``CONFIG`` is the
merged config as JSON, 0600: it carries credentials), ``<top>/scratch`` is
``WORKING_DIR``, ``<top>/target`` the target unless ``install.target`` says
otherwise, ``<top>/bin`` the ``curtin`` command and ``<top>/python`` the
one Python package of ours that hooks may import.  Unlike curtin we keep the
directory after the install: the install report, log and state stay there
for an operator to read (under /run it is gone at the next boot anyway).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from ..errors import MaaslikeError
from ..privatefile import make_private_dir, write_private


class TargetNotEmpty(MaaslikeError):
    exit_code = 2


@dataclass(frozen=True)
class WorkDir:
    top: str
    target: str

    def __post_init__(self) -> None:
        # Commands and hooks run from `scratch` and may chdir anywhere: a
        # relative path (``--workdir rel/dir``) would name something else there.
        object.__setattr__(self, "top", os.path.abspath(self.top))
        object.__setattr__(self, "target", os.path.abspath(self.target))

    @property
    def scratch(self) -> str:
        return os.path.join(self.top, "scratch")

    @property
    def state(self) -> str:
        return os.path.join(self.top, "state")

    def state_file(self, name: str) -> str:
        return os.path.join(self.state, name)

    @property
    def config_file(self) -> str:
        return self.state_file("config")

    @property
    def bin(self) -> str:
        return os.path.join(self.top, "bin")

    @property
    def python(self) -> str:
        return os.path.join(self.top, "python")

    @property
    def payload(self) -> str:
        return os.path.join(self.top, "payload")

    @property
    def report_file(self) -> str:
        return os.path.join(self.top, "install-report.json")

    @property
    def progress_file(self) -> str:
        return os.path.join(self.top, "progress.json")


def check_target(target: str) -> None:
    """curtin's rule: an install goes into an empty (or absent) directory."""
    if os.path.isdir(target):
        entries = [e for e in os.listdir(target) if e != "lost+found"]
        if entries:
            raise TargetNotEmpty(
                f"target {target} is not empty ({len(entries)} entries, e.g. {sorted(entries)[0]!r});"
                " give an empty directory or a new path")
    elif os.path.exists(target):
        raise TargetNotEmpty(f"target {target} exists and is not a directory")


def create_workdir(raw_config: Mapping[str, Any], base: Optional[str] = None,
                   target: Optional[str] = None) -> WorkDir:
    """Create the layout and write the ``CONFIG`` state file."""
    if base:
        make_private_dir(base)
    top = tempfile.mkdtemp(prefix="maaslike-install-", dir=base)
    os.chmod(top, 0o700)
    target = os.path.abspath(target) if target else os.path.join(top, "target")
    check_target(target)
    work = WorkDir(top, target)
    for sub in (work.scratch, work.state, work.bin, target):
        os.makedirs(sub, exist_ok=True)
    write_private(work.config_file, json.dumps(raw_config, indent=1, default=str))
    for name in ("fstab", "network_config", "network_state", "interfaces", "storage_config"):
        write_private(work.state_file(name), b"")
    return work


def load_workdir(top: str, target: str) -> WorkDir:
    return WorkDir(top, target)
