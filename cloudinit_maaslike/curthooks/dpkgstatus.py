"""What dpkg says is installed in the target, read from its status file (no dpkg run).

Several steps decide on it (debconf reconfigure, grub reconfigure, btrfs
swap needs a recent kernel); reading the file needs no chroot and works on
a target whose dpkg cannot run on this host.
"""

from __future__ import annotations

import os
from typing import Dict

from .. import targetfs

STATUS = "var/lib/dpkg/status"
_MACHINE_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "i686": "i386", "i586": "i386", "armv7l": "armhf",
                 "ppc64le": "ppc64el"}


def host_arch() -> str:
    """This machine's dpkg architecture name (amd64 for x86_64…), as curtin's get_platform_arch maps it."""
    machine = os.uname().machine
    return _MACHINE_ARCH.get(machine, machine)


def installed(target: str) -> Dict[str, str]:
    """Package name -> version, for packages marked installed (ii or hi in dpkg-query's terms)."""
    data = targetfs.read_file(target, STATUS, 256 << 20) or b""
    found: Dict[str, str] = {}
    for stanza in data.decode("utf-8", "replace").split("\n\n"):
        fields = dict(line.split(":", 1) for line in stanza.splitlines() if ":" in line and line[0] not in " \t")
        status = fields.get("Status", "").split()
        if status and status[0] in ("install", "hold") and status[-1] == "installed":
            found[fields.get("Package", "").strip()] = fields.get("Version", "").strip()
    return found
