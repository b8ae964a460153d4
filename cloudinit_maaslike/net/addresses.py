"""IP address, prefix and MAC checks that give a reason instead of a traceback.

Each function returns the normalised value or raises `BadValue` with a short
reason; the schema turns that into a problem at the key's path.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Optional, Tuple

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


def _split(value: Any, netmask: Any, example: str, noun: str) -> Tuple[str, Any, int]:
    """Host part, prefix as given (after '/' or as a netmask) and IP version."""
    if not isinstance(value, str) or not value.strip():
        raise BadValue(f"expected {example}, got {value!r}")
    host, slash, given = value.strip().partition("/")
    try:
        version = ipaddress.ip_address(host).version
    except ValueError:
        raise BadValue(f"not {noun}: {value!r}")
    if slash and netmask is not None and _prefix(given, version) != _prefix(netmask, version):
        raise BadValue(f"the prefix of {value} disagrees with netmask {netmask}")
    return host, given if slash else netmask, version


def ip_interface(address: Any, netmask: Any = None) -> str:
    """An address with its prefix (10.0.0.4/24), from CIDR or address + netmask."""
    host, given, version = _split(address, netmask, "an address such as 10.0.0.4/24", "an IP address")
    if given is None:
        raise BadValue(f"{address} needs a prefix (such as {host}/24) or a netmask")
    return str(ipaddress.ip_interface(f"{host}/{_prefix(given, version)}"))


def ip_network(destination: Any, netmask: Any = None) -> str:
    """A route destination as a network in CIDR form; host bits are an error."""
    host, given, version = _split(destination, netmask, "a network such as 10.1.0.0/16", "a network")
    # a bare address is a host route
    prefix = (32 if version == 4 else 128) if given is None else _prefix(given, version)
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
