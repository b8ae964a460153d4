"""The sfdisk script that writes one disk's partition table in one go."""

from __future__ import annotations

from typing import List

from .plan import PlannedDisk

SFDISK_LABEL = {"gpt": "gpt", "msdos": "dos"}


def sfdisk_script(disk: PlannedDisk, append: bool = False) -> str:
    """Every partition with an explicit start and size, in sectors."""
    sector = disk.device.logical_sector
    lines: List[str] = []
    if not append:
        lines += [f"label: {SFDISK_LABEL[disk.ptable or 'gpt']}", "unit: sectors"]
        if disk.ptable == "gpt":
            lines.append(f"sector-size: {sector}")
        lines.append("")
    for part in disk.partitions:
        if append and part.entry.preserve:
            continue
        fields = [f"start={part.start // sector}", f"size={part.size // sector}",
                  f"type={part.type_code}"]
        if part.bootable:
            fields.append("bootable")
        lines.append(f"{disk.device.path}{'p' if disk.device.name[-1:].isdigit() else ''}"
                     f"{part.number} : " + ", ".join(fields))
    return "\n".join(lines) + "\n"
