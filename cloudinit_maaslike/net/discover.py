"""The machine's physical Ethernet interfaces, read from sysfs.

Only sysfs is read (no `ip`, no udev: the ephemeral image may run neither),
and its root is a parameter so tests use a fake tree.  A device is physical
when it has a ``device`` link (virtual ones, lo, bonds, bridges, veths have
none) and Ethernet when its ``type`` is 1 (ARPHRD_ETHER; InfiniBand is 32).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional, Tuple

from .errors import NetworkError

SYS_CLASS_NET = "/sys/class/net"
ARPHRD_ETHER = "1"


@dataclass(frozen=True)
class Nic:
    name: str
    mac: Optional[str]
    operstate: str  # up, down, unknown, dormant, lowerlayerdown, notpresent
    carrier: Optional[bool]  # None while the device is down (the kernel answers EINVAL)
    driver: Optional[str]

    @property
    def is_up(self) -> bool:
        """The kernel's rule (Documentation/networking/operstates): 'unknown' counts as up."""
        return self.operstate in ("up", "unknown")

    @property
    def has_carrier(self) -> bool:
        return bool(self.carrier)


def _read(path: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return None


def read_nic(sysfs: str, name: str) -> Optional[Nic]:
    """`name` as a Nic, or None when it is not a physical Ethernet device."""
    base = os.path.join(sysfs, name)
    if name == "lo" or not os.path.exists(os.path.join(base, "device")):
        return None
    if (_read(os.path.join(base, "type")) or ARPHRD_ETHER) != ARPHRD_ETHER:
        return None
    carrier = _read(os.path.join(base, "carrier"))
    driver_link = os.path.join(base, "device", "driver")
    driver = os.path.basename(os.readlink(driver_link)) if os.path.islink(driver_link) else None
    mac = _read(os.path.join(base, "address"))
    return Nic(name=name, mac=mac.lower() if mac else None,
               operstate=_read(os.path.join(base, "operstate")) or "unknown",
               carrier=None if carrier not in ("0", "1") else carrier == "1", driver=driver)


def discover_nics(sysfs: str = SYS_CLASS_NET) -> Tuple[Nic, ...]:
    """Every physical Ethernet interface, by name."""
    try:
        names = sorted(os.listdir(sysfs))
    except OSError as exc:
        raise NetworkError(f"cannot list the network devices in {sysfs}: {exc.strerror or exc}")
    found = (read_nic(sysfs, name) for name in names)
    return tuple(nic for nic in found if nic is not None)
