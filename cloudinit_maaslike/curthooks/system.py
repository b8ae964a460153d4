"""Small system steps: overlayroot, kernel-img.conf, kernel, fstab, hostname, initramfs.

Their config (``kernel``, ``hostname``, ``initramfs``, ``disable_overlayroot``,
``restore_dist_interfaces``) is parsed here at validation; the steps read the
parsed values from ``ctx.settings``.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, List, Mapping, Optional, Set

from ..config.problems import Problems
from . import dpkgstatus
from .context import HookContext

FSTAB_HEADER = "# /etc/fstab: written by cloudinit-maaslike from the install's storage layout\n"


def parse_switch(cfg: Mapping[str, Any], key: str) -> bool:
    """A top-level switch that is on unless set to something false (Python's truth, as curtin reads it)."""
    return bool(cfg.get(key, True))


@dataclass(frozen=True)
class KernelSettings:
    """``kernel``, parsed (``remove`` is refused by the key table unless off)."""

    install: bool = True  # only ``install: false`` turns it off
    package: Optional[str] = None
    fallback_package: Optional[str] = None  # ``fallback-package``, or curtin's other spelling ``fallback_package``
    # curtin's mapping: release codename -> running kernel's X.Y.Z -> package suffix
    mapping: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: MappingProxyType({}))


def parse_kernel(raw: Any, path: str, problems: Problems) -> KernelSettings:
    if raw is None:
        return KernelSettings()
    if not isinstance(raw, Mapping):
        problems.error(path, "expected {package: …, fallback-package: …}")
        return KernelSettings()
    fallback = raw.get("fallback-package", raw.get("fallback_package"))
    mapping = raw.get("mapping") or {}
    if not isinstance(mapping, Mapping) or not all(
            isinstance(versions, Mapping) and all(isinstance(v, (str, int, float)) for v in versions.values())
            for versions in mapping.values()):
        problems.error(f"{path}.mapping", "expected {codename: {kernel version: package suffix}}, "
                                          f"got {mapping!r}")
        mapping = {}
    return KernelSettings(install=raw.get("install") is not False,
                          package=str(raw["package"]) if raw.get("package") else None,
                          fallback_package=str(fallback) if fallback else None,
                          mapping=MappingProxyType({str(c): MappingProxyType({str(k): str(v) for k, v in vs.items()})
                                                    for c, vs in mapping.items()}))


def mapped_package(kernel: KernelSettings, codename: str, release: str) -> Optional[str]:
    """curtin's mapping: ``linux-<flavor><suffix>`` for the running kernel ``X.Y.Z-ABI-flavor``."""
    parts = release.split("-", 2)
    if len(parts) != 3:
        return None
    version, _, flavor = parts
    suffix = kernel.mapping.get(codename, {}).get(version)
    return None if suffix is None else f"linux-{flavor}{suffix}"


def kernel_package(kernel: KernelSettings, os_id: str, codename: str = "", release: str = "") -> Optional[str]:
    """The named package, then the mapping's, then the fallback, then the distribution's own."""
    if kernel.package:
        return kernel.package
    mapped = mapped_package(kernel, codename, release or os.uname().release)
    if mapped:
        return mapped
    if kernel.fallback_package:
        return kernel.fallback_package
    return {"debian": f"linux-image-{dpkgstatus.host_arch()}", "ubuntu": "linux-generic"}.get(os_id)


def disable_overlayroot(ctx: HookContext) -> List[str]:
    """An image's overlayroot config is for the ephemeral system: the installed one gets none."""
    local = "etc/overlayroot.local.conf"
    if not ctx.settings.disable_overlayroot or not os.path.exists(ctx.path(local)):
        return []
    os.replace(ctx.path(local), ctx.path(local) + ".old")
    return [f"/{local} -> /{local}.old"]


def restore_dist_interfaces(ctx: HookContext) -> List[str]:
    """Cloud images link /etc/network/interfaces into /run; their own file is interfaces.dist."""
    if not ctx.settings.restore_dist_interfaces:
        return []
    directory = ctx.path("etc/network")
    eni = os.path.join(directory, "interfaces")
    lands = ctx.path("etc/network/interfaces")
    run = ctx.path("run")
    if not os.path.exists(eni + ".dist") or not (lands == run or lands.startswith(run + "/")):
        return []
    os.replace(eni, eni + ".old")
    os.replace(eni + ".dist", eni)
    return ["/etc/network/interfaces.dist -> /etc/network/interfaces"]


def write_kernel_img_conf(ctx: HookContext) -> List[str]:
    """curtin's /etc/kernel-img.conf, on releases numbered before 19.10 (so every Debian).

    curtin reads the number from ``lsb_release``; os-release's VERSION_ID is
    the same number and needs no program in the target.  The architecture is
    the installer's, as in curtin.
    """
    version = ctx.os_release().get("VERSION_ID", "")
    try:
        release = tuple(int(part) for part in version.split("."))
    except ValueError:
        ctx.log.info("curthooks: no numeric VERSION_ID in the target's os-release; no /etc/kernel-img.conf")
        return []
    if release >= (19, 10):
        return []
    machine = os.uname().machine
    lines = [
        "# Kernel image management overrides",
        "# See kernel-img.conf(5) for details",
        "do_symlinks = yes",
        "do_bootloader = " + ("yes" if machine == "s390x" else "no"),
        "do_initrd = yes",
        "link_in_boot = " + ("no" if dpkgstatus.host_arch() in ("amd64", "i386") else "yes"),
    ]
    ctx.write("etc/kernel-img.conf", "\n".join(lines) + "\n", mode=0o644)
    return ["/etc/kernel-img.conf"]


def install_kernel(ctx: HookContext) -> List[str]:
    """Install a kernel only when the image has none (the network is needed then)."""
    kernel: KernelSettings = ctx.settings.kernel
    if not kernel.install:
        return []
    if glob.glob(ctx.path("boot/vmlinu[xz]-*")):
        return []
    release = ctx.os_release()
    package = kernel_package(kernel, release.get("ID", ""), release.get("VERSION_CODENAME", ""))
    if not package:
        ctx.log.warning("curthooks: the image has no kernel and no kernel.package is configured")
        return []
    ctx.run(["apt-get", "update", "-q"], "kernel")
    if not kernel.package and package != kernel.fallback_package and kernel.fallback_package \
            and ctx.in_target(["apt-cache", "show", package], None).returncode != 0:
        ctx.log.info("curthooks: the mapped kernel package %s is not available; installing %s",
                     package, kernel.fallback_package)  # as curtin falls back
        package = kernel.fallback_package
    ctx.run(["apt-get", "install", "-q", "-y", "--no-install-recommends", package], "kernel")
    return [package]


def copy_mdadm_conf(ctx: HookContext) -> List[str]:
    """The arrays the install built, for a target that has mdadm."""
    source = ctx.state.get("mdadm_conf")
    if not source or not os.path.exists(source) or not os.path.getsize(source):
        return []
    if not ctx.has("etc/mdadm"):
        ctx.log.warning("curthooks: RAID arrays were built but the image has no mdadm; "
                        "they will not be assembled at boot")
        return []
    with open(source, encoding="utf-8") as handle:
        ctx.write("etc/mdadm/mdadm.conf", handle.read(), mode=0o644)
    return ["/etc/mdadm/mdadm.conf"]


def write_fstab(ctx: HookContext) -> List[str]:
    """/etc/fstab from the install's fstab state (the image's own when there is none)."""
    source = ctx.state.get("fstab")
    lines = ""
    if source and os.path.exists(source):
        with open(source, encoding="utf-8") as handle:
            lines = handle.read()
    if not lines.strip():
        return []
    ctx.write("etc/fstab", FSTAB_HEADER + lines, mode=0o644)
    return ["/etc/fstab"]


def parse_hostname(raw: Any, path: str, problems: Problems) -> Optional[str]:
    """The host name (fully qualified or not), or None to keep the image's."""
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw or any(c.isspace() for c in raw):
        problems.error(path, f"expected a host name, got {raw!r}")
        return None
    return raw


def set_hostname(ctx: HookContext) -> List[str]:
    """/etc/hostname and the 127.0.1.1 line of /etc/hosts, from ``hostname:``."""
    fqdn: Optional[str] = ctx.settings.hostname
    if not fqdn:
        return []
    short = fqdn.split(".")[0]
    ctx.write("etc/hostname", short + "\n", mode=0o644)
    hosts_path = ctx.path("etc/hosts")
    try:
        with open(hosts_path, encoding="utf-8") as handle:
            hosts = [line for line in handle.read().splitlines() if not line.startswith("127.0.1.1")]
    except FileNotFoundError:
        hosts = ["127.0.0.1 localhost"]
    names = f"{fqdn} {short}" if fqdn != short else short
    hosts.insert(1 if hosts else 0, f"127.0.1.1 {names}")
    ctx.write("etc/hosts", "\n".join(hosts) + "\n", mode=0o644)
    return ["/etc/hostname", "/etc/hosts"]


INITRAMFS_MODES = ("auto", "always", "never")
_INITRD_STORAGE = ("raid", "lvm_volgroup", "dm_crypt", "bcache")


@dataclass(frozen=True)
class InitramfsSettings:
    """``initramfs`` (not curtin's), parsed."""

    update: str = "auto"  # one of INITRAMFS_MODES


def parse_initramfs(raw: Any, path: str, problems: Problems) -> InitramfsSettings:
    if raw is None:
        return InitramfsSettings()
    if not isinstance(raw, Mapping) or raw.get("update", "auto") not in INITRAMFS_MODES:
        problems.error(f"{path}.update", f"expected one of {', '.join(INITRAMFS_MODES)}")
        return InitramfsSettings()
    return InitramfsSettings(update=str(raw.get("update", "auto")))


def initramfs_reason(ctx: HookContext) -> Optional[str]:
    """Why the initramfs must be rebuilt, or None when the image's fits.

    ``initramfs: {update: auto}`` (the default) rebuilds only when a kernel has
    no initramfs, the root needs mdadm/LVM/crypt, or RAID arrays were built
    (their names come from the mdadm.conf inside it): regenerating it
    otherwise changes nothing and costs minutes on slow machines.
    """
    mode = ctx.settings.initramfs.update
    if mode == "never":
        return None
    kernels = glob.glob(ctx.path("boot/vmlinu[xz]-*"))
    if not kernels:
        return None
    if mode == "always":
        return "initramfs.update is always"
    for kernel in kernels:
        version = os.path.basename(kernel).split("-", 1)[1]
        if not os.path.exists(ctx.path(f"boot/initrd.img-{version}")):
            return f"kernel {version} has no initramfs"
    storage_state = ctx.state.get("storage_config")
    if storage_state and os.path.exists(storage_state):
        import yaml

        with open(storage_state, encoding="utf-8") as handle:
            layout = (yaml.safe_load(handle) or {}).get("storage") or {}
        needed = boot_stack_kinds(layout.get("config") or []) & set(_INITRD_STORAGE)
        if needed:
            return f"the root filesystem is on {', '.join(sorted(needed))}"
    conf = ctx.state.get("mdadm_conf")
    if conf and os.path.exists(conf) and os.path.getsize(conf) and ctx.has(MDADM_INITRAMFS_HOOK):
        # the initramfs assembles every array; without the new mdadm.conf it
        # names them md127, md126... instead of what the layout asked for
        return "RAID arrays were built (the initramfs needs their mdadm.conf)"
    return None


MDADM_INITRAMFS_HOOK = "usr/share/initramfs-tools/hooks/mdadm"


BOOT_PATHS = ("/", "/usr", "/boot")


def boot_stack_kinds(entries: List[Any]) -> Set[str]:
    """Entry types under the filesystems mounted at boot (/, /usr, /boot).

    Only those need mdadm, LVM or crypt in the initramfs; a data mount on RAID
    is assembled after the root is up.
    """
    by_id = {e.get("id"): e for e in entries if isinstance(e, Mapping)}
    found: Set[str] = set()
    todo = [e.get("device") for e in entries
            if isinstance(e, Mapping) and e.get("type") == "mount" and e.get("path") in BOOT_PATHS]
    seen: Set[Any] = set()
    while todo:
        ident = todo.pop()
        entry = by_id.get(ident)
        if entry is None or ident in seen:
            continue
        seen.add(ident)
        found.add(str(entry.get("type")))
        for key in ("volume", "device", "volgroup"):
            if entry.get(key):
                todo.append(entry[key])
        todo.extend(entry.get("devices") or [])
    return found


def update_initramfs(ctx: HookContext) -> List[str]:
    if not ctx.has("usr/sbin/update-initramfs"):
        return []
    why = initramfs_reason(ctx)
    if why is None:
        ctx.log.info("curthooks: the image's initramfs fits; not rebuilding it (initramfs.update: always to force)")
        return []
    ctx.log.info("curthooks: rebuilding the initramfs: %s", why)
    ctx.run(["update-initramfs", "-u", "-k", "all"], "initramfs")
    return [f"initramfs ({why})"]
