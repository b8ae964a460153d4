"""Small system steps: kernel, fstab, hostname, initramfs."""

from __future__ import annotations

import glob
import os
from typing import Any, List, Mapping, Optional

from ..config.problems import Problems
from ..privatefile import write_private
from .context import HookContext

FSTAB_HEADER = "# /etc/fstab: written by cloudinit-maaslike from the install's storage layout\n"


def kernel_package(cfg: Mapping[str, Any], os_id: str) -> Optional[str]:
    kernel = cfg.get("kernel") or {}
    if kernel.get("package"):
        return str(kernel["package"])
    if kernel.get("fallback-package"):
        return str(kernel["fallback-package"])
    return {"debian": "linux-image-amd64", "ubuntu": "linux-generic"}.get(os_id)


def validate_kernel(raw: Any, path: str, problems: Problems) -> None:
    if raw is not None and not isinstance(raw, Mapping):
        problems.error(path, "expected {package: …, fallback-package: …}")


def install_kernel(ctx: HookContext) -> List[str]:
    """Install a kernel only when the image has none (the network is needed then)."""
    kernel = ctx.cfg.get("kernel") or {}
    if kernel.get("install") is False:
        return []
    if glob.glob(ctx.path("boot/vmlinu[xz]-*")):
        return []
    package = kernel_package(ctx.cfg, ctx.os_release().get("ID", ""))
    if not package:
        ctx.log.warning("curthooks: the image has no kernel and no kernel.package is configured")
        return []
    ctx.run(["apt-get", "update", "-q"], "kernel")
    ctx.run(["apt-get", "install", "-q", "-y", "--no-install-recommends", package], "kernel")
    return [package]


def write_fstab(ctx: HookContext) -> List[str]:
    """/etc/fstab from the install's fstab state (the image's own when there is none)."""
    source = ctx.state.get("fstab")
    lines = ""
    if source and os.path.exists(source):
        with open(source, encoding="utf-8") as handle:
            lines = handle.read()
    if not lines.strip():
        return []
    write_private(ctx.path("etc/fstab"), FSTAB_HEADER + lines, mode=0o644)
    return ["/etc/fstab"]


def validate_hostname(raw: Any, path: str, problems: Problems) -> None:
    if raw is None:
        return
    if not isinstance(raw, str) or not raw or any(c.isspace() for c in raw):
        problems.error(path, f"expected a host name, got {raw!r}")


def set_hostname(ctx: HookContext) -> List[str]:
    """/etc/hostname and the 127.0.1.1 line of /etc/hosts, from ``hostname:``."""
    fqdn = ctx.cfg.get("hostname")
    if not fqdn:
        return []
    short = str(fqdn).split(".")[0]
    write_private(ctx.path("etc/hostname"), short + "\n", mode=0o644)
    hosts_path = ctx.path("etc/hosts")
    try:
        with open(hosts_path, encoding="utf-8") as handle:
            hosts = [line for line in handle.read().splitlines() if not line.startswith("127.0.1.1")]
    except FileNotFoundError:
        hosts = ["127.0.0.1 localhost"]
    names = f"{fqdn} {short}" if fqdn != short else short
    hosts.insert(1 if hosts else 0, f"127.0.1.1 {names}")
    write_private(hosts_path, "\n".join(hosts) + "\n", mode=0o644)
    return ["/etc/hostname", "/etc/hosts"]


INITRAMFS_MODES = ("auto", "always", "never")
_INITRD_STORAGE = ("raid", "lvm_volgroup", "dm_crypt", "bcache")


def validate_initramfs(raw: Any, path: str, problems: Problems) -> None:
    if raw is None:
        return
    if not isinstance(raw, Mapping) or raw.get("update", "auto") not in INITRAMFS_MODES:
        problems.error(f"{path}.update", f"expected one of {', '.join(INITRAMFS_MODES)}")


def initramfs_reason(ctx: HookContext) -> Optional[str]:
    """Why the initramfs must be rebuilt, or None when the image's fits.

    ``initramfs: {update: auto}`` (the default) rebuilds only when a kernel has
    no initramfs or the storage needs mdadm/LVM/crypt at boot: regenerating it
    otherwise changes nothing and costs minutes on slow machines.
    """
    mode = (ctx.cfg.get("initramfs") or {}).get("update", "auto")
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
        kinds = {str(e.get("type")) for e in layout.get("config") or [] if isinstance(e, Mapping)}
        needed = sorted(kinds & set(_INITRD_STORAGE))
        if needed:
            return f"the storage uses {', '.join(needed)}"
    return None


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
