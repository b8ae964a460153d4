"""IP address, prefix and MAC checks that give a reason instead of a traceback.

Each function returns the normalised value or raises `BadValue` with a short
reason; the schema turns that into a problem at the key's path.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Optional

# 6-byte Ethernet, or 20-byte InfiniBand hardware addresses.
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$|^[0-9a-f]{2}(:[0-9a-f]{2}){19}$")


class BadValue(ValueError):
    """A value that is not what its key needs; str() is the reason."""


def ip_address(value: Any) -> str:
    """A single IPv4 or IPv6 address, normalised."""
    if not isinstance(value, str):
        raise BadValue(f"expected an IP address, got {value!r}")
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise BadValue(f"not an IP address: {value!r}")


def _prefix(netmask: Any, version: int) -> int:
    if isinstance(netmask, int) and not isinstance(netmask, bool):
        prefix = netmask
    elif isinstance(netmask, str) and netmask.strip().isdigit():
        prefix = int(netmask.strip())
    elif isinstance(netmask, str) and version == 4:
        try:
            prefix = ipaddress.ip_network(f"0.0.0.0/{netmask.strip()}").prefixlen
        except ValueError:
            raise BadValue(f"not a netmask: {netmask!r}")
    else:
        raise BadValue(f"not a netmask or prefix length: {netmask!r}")
    if not 0 <= prefix <= (32 if version == 4 else 128):
        raise BadValue(f"prefix length {prefix} is out of range for IPv{version}")
    return prefix


def ip_interface(address: Any, netmask: Any = None) -> str:
    """An address with its prefix (10.0.0.4/24), from CIDR or address + netmask."""
    if not isinstance(address, str) or not address.strip():
        raise BadValue(f"expected an address such as 10.0.0.4/24, got {address!r}")
    text = address.strip()
    host, slash, given = text.partition("/")
    try:
        version = ipaddress.ip_address(host).version
    except ValueError:
        raise BadValue(f"not an IP address: {address!r}")
    if slash and netmask is not None and _prefix(given, version) != _prefix(netmask, version):
        raise BadValue(f"the prefix of {address} disagrees with netmask {netmask}")
    if not slash and netmask is None:
        raise BadValue(f"{address} needs a prefix (such as {host}/24) or a netmask")
    prefix = _prefix(given if slash else netmask, version)
    return str(ipaddress.ip_interface(f"{host}/{prefix}"))


def ip_network(destination: Any, netmask: Any = None) -> str:
    """A route destination as a network in CIDR form; host bits are an error."""
    if not isinstance(destination, str) or not destination.strip():
        raise BadValue(f"expected a network such as 10.1.0.0/16, got {destination!r}")
    text = destination.strip()
    host, slash, given = text.partition("/")
    try:
        version = ipaddress.ip_address(host).version
    except ValueError:
        raise BadValue(f"not a network: {destination!r}")
    if slash and netmask is not None and _prefix(given, version) != _prefix(netmask, version):
        raise BadValue(f"the prefix of {destination} disagrees with netmask {netmask}")
    if slash:
        prefix = _prefix(given, version)
    elif netmask is not None:
        prefix = _prefix(netmask, version)
    else:
        prefix = 32 if version == 4 else 128
    try:
        return str(ipaddress.ip_network(f"{host}/{prefix}"))
    except ValueError:
        raise BadValue(f"{host}/{prefix} has host bits set (did you mean "
                       f"{ipaddress.ip_network(f'{host}/{prefix}', strict=False)}?)")


def netmask_of(network: str) -> str:
    """The dotted netmask of an IPv4 network, for ifupdown's `route` lines."""
    return str(ipaddress.ip_network(network).netmask)


def mac_address(value: Any) -> str:
    """A hardware address in lower case, colon separated."""
    if not isinstance(value, str) or not _MAC.match(value.strip().lower()):
        raise BadValue(f"not a MAC address (aa:bb:cc:dd:ee:ff): {value!r}")
    return value.strip().lower()


def whole_number(value: Any, low: int, high: Optional[int] = None) -> int:
    """An int (or a string of digits, as YAML authors often write) within bounds."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise BadValue(f"expected a whole number, got {value!r}")
    if isinstance(value, str):
        if not value.strip().isdigit():
            raise BadValue(f"expected a whole number, got {value!r}")
        value = int(value.strip())
    if value < low or (high is not None and value > high):
        bounds = f"{low} to {high}" if high is not None else f"at least {low}"
        raise BadValue(f"{value} is out of range ({bounds})")
    return int(value)
