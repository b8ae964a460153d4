"""The bootloader, as curtin installs it on a Debian-family target.

``boot`` (legacy ``grub``, and ``grub_install_devices``) takes curtin's keys
and defaults.  The kernel command line of the installed system gets what
curtin carries over from the installer's: its ``console=`` words, and what
MAAS put after `` --- `` (or a legacy `` -- ``), written into
``/etc/default/grub`` (not a grub.d file, so the image's own grub.d settings
still apply after it, as under curtin).  The install devices go into grub-pc's
debconf database before ``dpkg-reconfigure``, so a later grub upgrade installs
to the same disks.  Commands run in curtin's order: reconfigure, update-grub,
grub-install.

On UEFI machines the NVRAM boot entries are tidied around grub-install as
curtin tidies them (see nvram.py).

Not built (refused at validation when asked for, see config/keys.py):
extlinux.  Extended: ``dpkg-reconfigure`` is skipped for a grub package the
image does not have installed (curtin fails there: Debian images carry
grub-efi-amd64-bin, not grub-efi-amd64); an image without efibootmgr keeps the
entries grub-install made, with a warning (curtin fails).

grub-mkconfig writes ``root=UUID=…`` only when ``/dev/disk/by-uuid/<uuid>``
exists, which it does not where no udev runs, so the link is made for the
duration.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

import yaml

from .. import runner
from ..config.keys import as_boolean
from ..config.problems import Problems
from ..storage import sysfs
from ..storage.model import Disk
from ..storage.plan import resolve_disk
from . import dpkgstatus, nvram
from .context import HookContext, StepFailed

GRUB_DEFAULTS = "etc/default/grub"
GRUB_SETTINGS = "etc/default/grub.d/50-curtin-settings.cfg"
CLOUDIMG_SETTINGS = "etc/default/grub.d/50-cloudimg-settings.cfg"
_UNSET = object()
_DROPPED_AFTER_SEPARATOR = re.compile(r"(BOOTIF=.*|initrd=.*|BOOT_IMAGE=.*)")
_EFI_TARGETS = {"x86_64": ("x86_64-efi", "grub-efi-amd64"), "aarch64": ("arm64-efi", "grub-efi-arm64"),
                "i686": ("i386-efi", "grub-efi-ia32"), "riscv64": ("riscv64-efi", "grub-efi-riscv64")}


@dataclass(frozen=True)
class BootSettings:
    """``boot`` (or the legacy ``grub`` and ``grub_install_devices``), parsed with curtin's defaults."""

    # None: the disks the storage layout marks (BIOS) or the ESP (UEFI);
    # (): grub goes on no disk (install_devices: null or [])
    install_devices: Optional[Tuple[str, ...]] = None
    replace_linux_default: bool = True
    probe_additional_os: bool = False
    terminal: str = "console"
    kernel_cmdline: Tuple[str, ...] = ()
    nvram: nvram.NvramSettings = field(default_factory=nvram.NvramSettings)


def parse(cfg: Mapping[str, Any], problems: Problems) -> BootSettings:
    """The bootloader keys of the whole config; problems are reported with their key path."""
    if cfg.get("boot") is not None and cfg.get("grub"):
        problems.error("grub", "both grub and boot are given (curtin refuses this too): keep boot")
    for key in ("grub", "boot"):
        section = cfg.get(key)
        if section is None:
            continue
        if not isinstance(section, Mapping):
            problems.error(key, "expected a mapping")
            continue
        devices = section.get("install_devices")
        if isinstance(devices, str):
            devices = [devices]
        if devices is not None and (not isinstance(devices, list) or not all(isinstance(d, str) for d in devices)):
            problems.error(f"{key}.install_devices", "expected a list of device paths")
        loaders = section.get("bootloaders")
        if loaders is not None and (not isinstance(loaders, list) or loaders != ["grub"]):
            problems.error(f"{key}.bootloaders", f"refused: only [grub] is built, got {loaders!r}")
        terminal = section.get("terminal")
        if terminal is not None and not isinstance(terminal, str):
            problems.error(f"{key}.terminal", f"expected a string like console or 'console serial', got {terminal!r}")
    boot = _section(cfg)
    explicit = boot.get("install_devices", _UNSET)
    if explicit is _UNSET:
        devices_given: Optional[Tuple[str, ...]] = None
    elif isinstance(explicit, str):
        devices_given = (explicit,)
    elif isinstance(explicit, list):
        devices_given = tuple(str(d) for d in explicit)
    else:
        devices_given = ()
    return BootSettings(
        install_devices=devices_given,
        replace_linux_default=as_boolean(boot.get("replace_linux_default", True)),
        probe_additional_os=as_boolean(boot.get("probe_additional_os", False)),
        terminal=str(boot.get("terminal", "console")),
        kernel_cmdline=tuple(str(boot.get("kernel_cmdline") or "").split()),
        nvram=nvram.NvramSettings.from_boot(boot),
    )


def _section(cfg: Mapping[str, Any]) -> Dict[str, Any]:
    """``boot``, or the legacy ``grub`` translated as curtin translates it."""
    chosen = cfg.get("boot" if "boot" in cfg else "grub")
    boot = dict(chosen) if isinstance(chosen, Mapping) else {}
    if "grub_install_devices" in cfg and "install_devices" not in cfg:
        boot["install_devices"] = cfg["grub_install_devices"]
    return boot


def is_uefi(ctx: HookContext) -> bool:
    return os.path.isdir(os.path.join(ctx.host_root, "sys/firmware/efi"))


def carryover_params(cmdline: str) -> List[str]:
    """What the installed system's kernel keeps of the installer's command line (curtin's rule).

    ``console=`` words from before the separator, then every word after it
    but ``BOOTIF=``, ``initrd=`` and ``BOOT_IMAGE=``; a console word that also
    follows the separator is kept once, after it.
    """
    for separator in (" --- ", " -- "):
        if separator in cmdline:
            sections = cmdline.split(separator)
            lead, extra = sections[0], " ".join(sections[1:])
            break
    else:
        lead, extra = cmdline, ""
    carried = [word for word in extra.split() if not _DROPPED_AFTER_SEPARATOR.match(word)]
    consoles = [word for word in lead.split() if word not in carried and word.startswith("console=")]
    return consoles + carried


def _read(path: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def write_defaults(ctx: HookContext, boot: BootSettings) -> List[str]:
    """``/etc/default/grub`` and ``50-curtin-settings.cfg``, as curtin leaves them."""
    done = []
    cloudimg = ctx.path(CLOUDIMG_SETTINGS)
    if os.path.exists(cloudimg):
        os.replace(cloudimg, cloudimg + ".disabled")
        done.append("/" + CLOUDIMG_SETTINGS + ".disabled")
    if boot.replace_linux_default:
        params = carryover_params(_read(os.path.join(ctx.host_root, "proc/cmdline")) or "")
        line = f'GRUB_CMDLINE_LINUX_DEFAULT="{" ".join([*boot.kernel_cmdline, *params])}"'
        current = _read(ctx.path(GRUB_DEFAULTS)) or ""
        found = re.search(r"GRUB_CMDLINE_LINUX_DEFAULT=.*", current)
        updated = (current[:found.start()] + line + current[found.end():]) if found else current + line + "\n"
        if updated != current:
            ctx.write(GRUB_DEFAULTS, updated, mode=0o644)
        done.append("/" + GRUB_DEFAULTS)
    block = ""
    if not boot.probe_additional_os:
        block += ("# Curtin disable grub os prober that might find other OS installs.\n"
                  'GRUB_DISABLE_OS_PROBER="true"\n')
    if boot.terminal.lower() != "unmodified":
        block += f'# Curtin configured GRUB_TERMINAL value\nGRUB_TERMINAL="{boot.terminal}"'
    if block:
        current = _read(ctx.path(GRUB_SETTINGS)) or ""
        if not current.endswith(block):  # curtin appends; a rerun must not append twice
            ctx.write(GRUB_SETTINGS, current + block, mode=0o644)
        done.append("/" + GRUB_SETTINGS)
    return done


def grub_devices(ctx: HookContext) -> List[str]:
    """BIOS: the disks the storage layout marks ``grub_device``."""
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


def esp_devices(ctx: HookContext) -> List[str]:
    """UEFI: the partition mounted at the target's /boot/efi."""
    done = runner.run(["findmnt", "-n", "-o", "SOURCE", "--mountpoint", ctx.path("boot/efi")])
    return [line for line in done.stdout.split() if line.startswith("/dev/")] if done.returncode == 0 else []


def by_id(device: str, directory: str = "/dev/disk/by-id") -> str:
    """A /dev/disk/by-id name of `device` where one exists (stable across boots), else the device."""
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return device
    real = os.path.realpath(device)
    for name in names:
        if os.path.realpath(os.path.join(directory, name)) == real:
            return os.path.join(directory, name)
    return device


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
    boot: BootSettings = ctx.settings.boot
    done = write_defaults(ctx, boot)
    uefi = is_uefi(ctx)
    if boot.install_devices == ():
        ctx.log.info("curthooks: install_devices is empty: grub goes on no disk")
        return done
    if boot.install_devices is not None:
        devices = list(boot.install_devices)
    else:
        devices = esp_devices(ctx) if uefi else grub_devices(ctx)
    if not devices and not uefi:
        raise StepFailed("bootloader: no grub device (mark a disk grub_device: true or set "
                         "boot.install_devices)")
    if devices and ctx.has("usr/bin/debconf-set-selections"):
        question = "grub-efi/install_devices" if uefi else "grub-pc/install_devices"
        selection = f"grub-pc {question} multiselect {', '.join(by_id(d) for d in devices)}\n"
        ctx.run(["debconf-set-selections"], "bootloader debconf", stdin=selection)
        done.append(f"debconf {question}")
    machine = os.uname().machine
    efi_target, efi_package = _EFI_TARGETS.get(machine, ("x86_64-efi", "grub-efi-amd64"))
    package = efi_package if uefi else "grub-pc"
    if package in dpkgstatus.installed(ctx.target):
        ctx.run(["dpkg-reconfigure", package], f"bootloader ({package})")
        done.append(f"dpkg-reconfigure {package}")
    else:
        ctx.log.info("curthooks: %s is not installed in the target; not reconfiguring it", package)
    ctx.run(["update-grub"], "bootloader config")
    done.append("grub.cfg")
    if uefi:
        nv = boot.nvram
        tidy = nv.update_nvram and ctx.has("usr/bin/efibootmgr", "bin/efibootmgr")
        if nv.update_nvram and not tidy:
            ctx.log.warning("curthooks: the image has no efibootmgr: the UEFI boot entries are left as "
                            "grub-install makes them")
        if tidy:
            done += remove_old_loaders(ctx, nv)
        variant = ctx.os_release().get("ID") or "debian"
        if ctx.has("usr/lib/grub/grub-multi-install"):
            argv = ["/usr/lib/grub/grub-multi-install"]
        else:
            argv = ["grub-install", f"--target={efi_target}", "--efi-directory=/boot/efi",
                    f"--bootloader-id={variant}", "--recheck"]
            if not nv.update_nvram:
                argv.append("--no-nvram")
        ctx.run(argv, "bootloader (UEFI)")
        done.append("grub-efi on /boot/efi")
        if tidy:
            done += reorder_entries(ctx, nv, variant) + remove_duplicates(ctx, nv)
    else:
        for device in devices:
            ctx.run(["grub-install", device], f"bootloader on {device}")
            done.append(f"grub-pc on {device}")
    return done


def boot_entries(ctx: HookContext) -> nvram.BootState:
    return nvram.parse(ctx.output(["efibootmgr", "-v"], "bootloader (reading the UEFI boot entries)"))


def remove_old_loaders(ctx: HookContext, nv: nvram.NvramSettings) -> List[str]:
    state = boot_entries(ctx)
    old = nvram.old_loaders(state)
    if old and not nv.remove_old_uefi_loaders:
        ctx.log.info("curthooks: keeping %d UEFI entries of earlier installs (remove_old_uefi_loaders is off): %s",
                     len(old), ", ".join(state.entries[n].name for n in old))
        return []
    for number in old:
        ctx.log.info("curthooks: removing UEFI entry Boot%s (%s) of an earlier install", number,
                     state.entries[number].name)
        ctx.run(["efibootmgr", "-B", "-b", number], "bootloader (removing an old UEFI entry)")
    return [f"UEFI entry Boot{n} removed" for n in old]


def reorder_entries(ctx: HookContext, nv: nvram.NvramSettings, variant: str) -> List[str]:
    if not nv.reorder_uefi:
        ctx.log.info("curthooks: UEFI boot order left as grub-install made it (reorder_uefi is off)")
        return []
    state = boot_entries(ctx)
    order = nvram.new_order(state, variant, nv.reorder_uefi_force_fallback)
    if order is None:
        return []
    ctx.log.info("curthooks: UEFI boot order %s (%s)", ",".join(order),
                 "BootCurrent first" if state.current and not nv.reorder_uefi_force_fallback
                 else "network, then the installed system, then the rest")
    ctx.run(["efibootmgr", "-o", ",".join(order)], "bootloader (UEFI boot order)")
    return [f"UEFI boot order {','.join(order)}"]


def remove_duplicates(ctx: HookContext, nv: nvram.NvramSettings) -> List[str]:
    if not nv.remove_duplicate_entries:
        return []
    state = boot_entries(ctx)
    found = nvram.duplicates(state)
    for number in found:
        ctx.log.info("curthooks: removing UEFI entry Boot%s (%s): it repeats another", number,
                     state.entries[number].name)
        ctx.run(["efibootmgr", f"--bootnum={number}", "--delete-bootnum"], "bootloader (a duplicate UEFI entry)")
    return [f"UEFI entry Boot{n} removed (duplicate)" for n in found]
