"""The bootloader: grub-pc to every grub device on BIOS, grub-efi on the ESP on UEFI.

Devices come from ``boot.install_devices`` (or legacy ``grub.install_devices``),
else from the storage layout the install made (disks and partitions with
``grub_device``).  The kernel command line gets what MAAS put after ``---``
on the ephemeral one (never what follows a bare ``--``).  grub-mkconfig writes
``root=UUID=…`` only when ``/dev/disk/by-uuid/<uuid>`` exists, which it does not
where no udev runs, so the link is made for the duration.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Iterator, List, Mapping

import yaml

from .. import runner
from ..config.problems import Problems
from ..storage import sysfs
from ..storage.model import Disk
from ..storage.plan import resolve_disk
from .context import HookContext, StepFailed

GRUB_SETTINGS = "etc/default/grub.d/50-cloudinit-maaslike.cfg"


def settings(cfg: Mapping[str, Any]) -> Mapping[str, Any]:
    return dict(cfg.get("grub") or {}, **(cfg.get("boot") or {}))


def validate(cfg: Mapping[str, Any], problems: Problems) -> None:
    for key in ("grub", "boot"):
        section = cfg.get(key)
        if section is None:
            continue
        if not isinstance(section, Mapping):
            problems.error(key, "expected a mapping")
            continue
        devices = section.get("install_devices")
        if devices is not None and (not isinstance(devices, list)
                                    or not all(isinstance(d, str) for d in devices)):
            problems.error(f"{key}.install_devices", "expected a list of device paths")


def is_uefi(ctx: HookContext) -> bool:
    return os.path.isdir(os.path.join(ctx.host_root, "sys/firmware/efi"))


def grub_devices(ctx: HookContext) -> List[str]:
    explicit = settings(ctx.cfg).get("install_devices")
    if explicit is not None:
        return [str(d) for d in explicit]
    storage_state = ctx.state.get("storage_config")
    if not storage_state or not os.path.exists(storage_state):
        return []
    with open(storage_state, encoding="utf-8") as handle:
        layout = (yaml.safe_load(handle) or {}).get("storage") or {}
    found = []
    candidates = sysfs.disks()
    for index, entry in enumerate(layout.get("config") or []):
        if entry.get("type") == "disk" and entry.get("grub_device"):
            disk = Disk(str(entry.get("id")), path=entry.get("path"), serial=entry.get("serial"),
                        wwn=entry.get("wwn"), index=index)
            device = resolve_disk(disk, candidates)
            if device is not None:
                found.append(device.path)
    return found


def extra_cmdline(cmdline_path: str) -> str:
    """MAAS's options for the installed system: what follows `---`."""
    try:
        with open(cmdline_path, encoding="utf-8") as handle:
            words = handle.read().split()
    except OSError:
        return ""
    return " ".join(words[words.index("---") + 1:]) if "---" in words else ""


@contextlib.contextmanager
def uuid_links(target: str) -> Iterator[List[str]]:
    """/dev/disk/by-uuid links for the filesystems mounted under the target.

    Where no udev runs they are missing, and grub-mkconfig (root=UUID=…) and
    initramfs-tools (the root's fsck hook) look for them.  Removed afterwards.
    """
    done = runner.run(["findmnt", "-n", "-r", "-o", "SOURCE,UUID", "-R", "--mountpoint", target])
    made: List[str] = []
    try:
        for line in done.stdout.splitlines():
            source, _, fs_uuid = line.partition(" ")
            if not fs_uuid or not source.startswith("/dev/"):
                continue
            link = os.path.join("/dev/disk/by-uuid", fs_uuid)
            if not os.path.lexists(link):
                os.makedirs(os.path.dirname(link), exist_ok=True)
                os.symlink(source, link)
                made.append(link)
        yield made
    finally:
        for link in made:
            with contextlib.suppress(OSError):
                os.unlink(link)


def install_bootloader(ctx: HookContext) -> List[str]:
    if not ctx.has("usr/sbin/grub-install"):
        ctx.log.warning("curthooks: the image has no grub-install; not installing a bootloader")
        return []
    options = settings(ctx.cfg)
    cmdline = extra_cmdline(os.path.join(ctx.host_root, "proc/cmdline"))
    extra = options.get("kernel_cmdline") or ""
    lines = ["# written by cloudinit-maaslike\n", "GRUB_DISABLE_OS_PROBER=true\n"]
    if cmdline or extra:
        lines.append(f'GRUB_CMDLINE_LINUX_DEFAULT="{" ".join(x for x in (extra, cmdline) if x)}"\n')
    if options.get("terminal"):
        lines.append(f'GRUB_TERMINAL="{options["terminal"]}"\n')
    ctx.write(GRUB_SETTINGS, "".join(lines), mode=0o644)
    done: List[str] = []
    if is_uefi(ctx):
        argv = ["grub-install", "--target=x86_64-efi", "--efi-directory=/boot/efi",
                "--bootloader-id=debian", "--recheck"]
        if options.get("update_nvram") is False:
            argv.append("--no-nvram")
        ctx.run(argv, "bootloader (UEFI)")
        done.append("grub-efi on /boot/efi")
    else:
        devices = grub_devices(ctx)
        if not devices and settings(ctx.cfg).get("install_devices") == []:
            ctx.log.info("curthooks: install_devices is empty; not installing a bootloader")
            return []
        if not devices:
            raise StepFailed("bootloader: no grub device (mark a disk grub_device: true or set "
                             "boot.install_devices)")
        for device in devices:
            ctx.run(["grub-install", "--target=i386-pc", "--recheck", device], f"bootloader on {device}")
            done.append(f"grub-pc on {device}")
    ctx.run(["update-grub"], "bootloader config")
    done.append("grub.cfg")
    return done
