"""UEFI boot entries (NVRAM), tidied after grub-install the way curtin tidies them.

A MAAS machine boots from the network first and is told to boot locally:
if the install left the new ``debian`` entry ahead of the network ones, the
machine would never PXE again and MAAS could not redeploy it.  So, as curtin
does, with ``boot.update_nvram`` (default true) on UEFI machines:

1. before grub-install, entries that load a file from an ESP
   (``File(\\EFI…``), other than the one that booted the installer, are
   removed (``remove_old_uefi_loaders``): old installs' loaders;
2. after it, the entry that booted the installer (BootCurrent) goes first
   (``reorder_uefi``).  Without BootCurrent, or with
   ``reorder_uefi_force_fallback``, the order becomes: network entries, then
   the installed OS's entry (named like the distribution), then the rest;
3. entries with the same name and device path as another are removed
   (``remove_duplicate_entries``), keeping BootCurrent's and the lowest number.

This module only reads ``efibootmgr -v`` output and decides; the bootloader
step runs efibootmgr.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ..config.keys import as_boolean

_ENTRY = re.compile(r"^Boot(?P<number>[0-9a-fA-F]{4})\*?\s(?P<name>.+)\t(?P<path>.*)$")
_NETWORK = re.compile(r".*(Network|PXE|NIC|Ethernet|LAN|IP4|IP6)+.*", re.IGNORECASE)
_HEADERS = {"BootCurrent": "current", "Timeout": "timeout", "BootOrder": "order"}


@dataclass(frozen=True)
class BootEntry:
    name: str
    path: str


@dataclass(frozen=True)
class BootState:
    current: str = ""
    order: Tuple[str, ...] = ()
    entries: Mapping[str, BootEntry] = field(default_factory=dict)


@dataclass(frozen=True)
class NvramSettings:
    """The ``boot`` keys that touch NVRAM, with curtin's defaults and conversions.

    curtin converts update_nvram and reorder_uefi_force_fallback with its
    value_as_boolean, and takes the other three as Python truth values (so
    the string "false" is true there, and here).
    """

    update_nvram: bool = True
    remove_old_uefi_loaders: bool = True
    reorder_uefi: bool = True
    reorder_uefi_force_fallback: bool = False
    remove_duplicate_entries: bool = True

    @classmethod
    def from_boot(cls, boot: Mapping[str, Any]) -> NvramSettings:
        return cls(
            update_nvram=as_boolean(boot.get("update_nvram", True)),
            remove_old_uefi_loaders=bool(boot.get("remove_old_uefi_loaders", True)),
            reorder_uefi=bool(boot.get("reorder_uefi", True)),
            reorder_uefi_force_fallback=as_boolean(boot.get("reorder_uefi_force_fallback", False)),
            remove_duplicate_entries=bool(boot.get("remove_duplicate_entries", True)),
        )


def parse(text: str) -> BootState:
    """`efibootmgr -v` output; BootOrder keeps only numbers that have an entry line."""
    headers: Dict[str, str] = {}
    entries: Dict[str, BootEntry] = {}
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) == 2 and parts[0].strip() in _HEADERS:
            headers[_HEADERS[parts[0].strip()]] = parts[1].strip()
        found = _ENTRY.match(line)
        if found:
            entries[found["number"]] = BootEntry(found["name"].strip(), found["path"].strip())
    order = tuple(n for n in headers.get("order", "").split(",") if n in entries)
    return BootState(headers.get("current", ""), order, entries)


def old_loaders(state: BootState) -> List[str]:
    """Entries loading a file from an ESP, but the one that booted this system."""
    return [n for n, e in state.entries.items() if "File(\\EFI" in e.path and n != state.current]


def is_network(name: str) -> bool:
    return _NETWORK.match(name) is not None


def fallback_order(state: BootState, variant: str) -> List[str]:
    """Network entries, then the installed OS's (by name), then the rest, each in their order."""
    network = [n for n in state.order if is_network(state.entries[n].name)]
    installed = [n for n in state.order if n not in network and state.entries[n].name.lower() == variant.lower()]
    rest = [n for n in state.order if n not in network and n not in installed]
    return network + installed + rest


def new_order(state: BootState, variant: str, force_fallback: bool = False) -> Optional[List[str]]:
    """The BootOrder to set after grub-install, or None to leave it.

    With BootCurrent it is always set (curtin does, even when unchanged);
    the fallback only when it changes something and there are two entries.
    """
    if state.current and not force_fallback:
        return [state.current] + [n for n in state.order if n != state.current]
    if len(state.order) < 2:
        return None
    order = fallback_order(state, variant)
    return order if order != list(state.order) else None


def duplicates(state: BootState) -> List[str]:
    """Entries repeating another's name and path; BootCurrent's wins, then the lowest number."""
    seen = set()
    if state.current in state.entries:
        current = state.entries[state.current]
        seen.add((current.name, current.path))
    found = []
    for number in sorted(state.entries):
        if number == state.current:
            continue
        key = (state.entries[number].name, state.entries[number].path)
        if key in seen:
            found.append(number)
        seen.add(key)
    return found
