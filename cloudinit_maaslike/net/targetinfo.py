"""What the target can render a network config with: cloud-init (and whether it takes v2), netplan.

curtin asks by running ``cloud-init features`` chrooted into the target and
looking for ``NETWORK_CONFIG_V2``.  That command prints
``sorted(cloudinit.version.FEATURES)`` and nothing else (22.4.2 and 25.1.4
alike; ``cloudinit/features.py`` holds unrelated behaviour flags), so we read
the same list from the target's ``cloudinit/version.py`` with `ast`: no
chroot, no mounts, nothing of the target executed.  Only when the target has
a ``cloud-init`` command but no package where distributions put it do we fall
back to curtin's way, if a runner is given; a failure there means "no v2",
as in curtin.
"""

from __future__ import annotations

import ast
import glob
import logging
import os
from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Tuple

from .. import targetfs
from ..runner import Finished

V2_FEATURE = "NETWORK_CONFIG_V2"
VERSION_FILES = (
    "usr/lib/python3/dist-packages/cloudinit/version.py",  # Debian, Ubuntu
    "usr/lib/python3*/site-packages/cloudinit/version.py",  # RHEL, SUSE
    "usr/lib/python3*/dist-packages/cloudinit/version.py",
    "usr/local/lib/python3*/dist-packages/cloudinit/version.py",  # pip
    "usr/local/lib/python3*/site-packages/cloudinit/version.py",
)
CLOUDINIT_COMMANDS = ("usr/bin/cloud-init", "usr/local/bin/cloud-init")
NETPLAN_COMMAND = "usr/sbin/netplan"
RunInTarget = Callable[[Sequence[str], Optional[str]], Finished]


@dataclass(frozen=True)
class TargetNetworking:
    has_cloudinit: bool
    cloudinit_version: Optional[str]
    features: Tuple[str, ...]
    features_from: str  # the file read, "cloud-init features", or "" when nothing told us
    has_netplan: bool

    @property
    def cloudinit_supports_v2(self) -> bool:
        return self.has_cloudinit and V2_FEATURE in self.features


def _inside(target: str, relative: str) -> Optional[str]:
    """`relative` in the target, its links resolved inside the target; None when absent."""
    path = targetfs.resolve(target, relative)
    return path if os.path.exists(path) else None


def read_version_file(path: str) -> Tuple[Optional[str], Tuple[str, ...]]:
    """``__VERSION__`` and ``FEATURES`` of a cloudinit/version.py, read, not run."""
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), path)
    version: Optional[str] = None
    features: Tuple[str, ...] = ()
    for node in tree.body:
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        target = node.targets[0]
        name = target.id if isinstance(target, ast.Name) else ""
        if name == "__VERSION__" and isinstance(node.value, ast.Constant):
            version = str(node.value.value)
        elif name == "FEATURES" and isinstance(node.value, (ast.List, ast.Tuple)):
            features = tuple(e.value for e in node.value.elts
                             if isinstance(e, ast.Constant) and isinstance(e.value, str))
    return version, features


def find_version_file(target: str) -> Optional[str]:
    for pattern in VERSION_FILES:
        for found in sorted(glob.glob(os.path.join(glob.escape(target), pattern))):
            if _inside(target, os.path.relpath(found, target)):
                return found
    return None


def probe_target(target: str, run_in_target: Optional[RunInTarget] = None,
                 log: Optional[logging.Logger] = None) -> TargetNetworking:
    log = log or logging.getLogger(__name__)
    command = next((c for c in CLOUDINIT_COMMANDS if _inside(target, c)), None)
    version_file = find_version_file(target)
    version: Optional[str] = None
    features: Tuple[str, ...] = ()
    told = ""
    if version_file is not None:
        try:
            version, features = read_version_file(version_file)
            told = "/" + os.path.relpath(version_file, target)
        except (OSError, SyntaxError, ValueError) as exc:
            log.warning("network: cannot read the target's %s (%s); taking it as no v2 support",
                        os.path.relpath(version_file, target), exc)
    elif command is not None and run_in_target is not None:
        done = run_in_target(["cloud-init", "features"], None)
        if done.returncode == 0:
            text = done.output if done.output is not None else "\n".join(done.tail)
            features = tuple(line.strip() for line in text.splitlines() if line.strip())
            told = "cloud-init features"
        else:
            log.warning("network: 'cloud-init features' failed in the target (exit %d); "
                        "taking it as no v2 support", done.returncode)
    return TargetNetworking(
        has_cloudinit=version_file is not None or command is not None,
        cloudinit_version=version, features=features, features_from=told,
        has_netplan=_inside(target, NETPLAN_COMMAND) is not None,
    )
