"""The built-in curthooks, in curtin's order, each a small named step.

The config is parsed once, before the stage writes anything
(`parse_curthooks`, run with the whole install config at validation): every
section a step reads becomes part of one frozen `CurthooksSettings`, and the
steps read only that (``ctx.settings``), never the raw dict.  Each step
reports its own event (``…/cmd-curthooks/<step>``) and is idempotent: running
the whole list twice leaves the same target.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ..config.problems import Problems
from . import apt, bootloader, cloudconfig, crashdumps, swap, system, upgrade, writefiles
from .context import HookContext


@dataclass(frozen=True)
class Step:
    name: str
    description: str
    run: Callable[[HookContext], List[str]]


def _network(ctx: HookContext) -> List[str]:
    config_path = ctx.state.get("network_config")
    if not config_path or not os.path.exists(config_path) or not os.path.getsize(config_path):
        return []
    from ..net import apply_network

    written = apply_network(ctx.target, config_path, ctx.log)
    return [str(w) for w in written]


STEPS = (
    Step("configuring-apt", "configuring apt in the target", apt.configure_apt),
    Step("disabling-overlayroot", "disabling the image's overlayroot", system.disable_overlayroot),
    Step("writing-files", "writing write_files", lambda c: writefiles.write_files(c, c.settings.write_files)),
    Step("configuring-raid", "copying the RAID configuration", system.copy_mdadm_conf),
    Step("writing-kernel-img-conf", "writing /etc/kernel-img.conf", system.write_kernel_img_conf),
    Step("installing-kernel", "installing a kernel if the image has none", system.install_kernel),
    Step("restoring-dist-interfaces", "restoring the image's own /etc/network/interfaces",
         system.restore_dist_interfaces),
    Step("setting-up-swap", "setting up swap", lambda c: swap.setup_swap(c, c.state.get("fstab"))),
    Step("writing-cloudconfig", "writing cloud-init config for the installed system",
         cloudconfig.write_cloudconfig),
    Step("applying-networking", "writing the network config", _network),
    Step("writing-fstab", "writing /etc/fstab", system.write_fstab),
    Step("upgrading-system", "upgrading the installed system (system_upgrade)", upgrade.system_upgrade),
    Step("setting-hostname", "setting the host name", system.set_hostname),
    Step("configuring-crash-dumps", "configuring kernel crash dumps", crashdumps.configure),
    Step("updating-initramfs", "updating the initramfs", system.update_initramfs),
    Step("installing-bootloader", "installing the bootloader", bootloader.install_bootloader),
)


@dataclass(frozen=True)
class CurthooksSettings:
    """Every curthooks section, as parsed at validation: what the steps read."""

    mode: str = "auto"  # curthooks.mode: auto | builtin | target
    write_files: Tuple[writefiles.WriteFile, ...] = ()
    swap: swap.SwapSettings = field(default_factory=swap.SwapSettings)
    cloudconfig: Tuple[writefiles.WriteFile, ...] = ()  # at their 95-cloudconfig-<name>.cfg paths
    kernel: system.KernelSettings = field(default_factory=system.KernelSettings)
    hostname: Optional[str] = None  # None: the image's own
    initramfs: system.InitramfsSettings = field(default_factory=system.InitramfsSettings)
    disable_overlayroot: bool = True
    restore_dist_interfaces: bool = True
    system_upgrade: upgrade.SystemUpgradeSettings = field(default_factory=upgrade.SystemUpgradeSettings)
    crash_dumps: crashdumps.CrashDumpSettings = field(default_factory=crashdumps.CrashDumpSettings)
    apt: apt.AptSettings = field(default_factory=apt.AptSettings)
    boot: bootloader.BootSettings = field(default_factory=bootloader.BootSettings)


def parse_curthooks(cfg: Mapping[str, Any], problems: Problems) -> CurthooksSettings:
    """The whole config in (apt also reads legacy top-level keys), every problem into `problems`."""
    apt_settings = apt.parse(cfg, problems)  # first, so its problems are listed first
    validate_curthooks(cfg, problems)
    mode = (cfg.get("curthooks") or {}).get("mode", "auto") if isinstance(cfg.get("curthooks"), Mapping) else "auto"
    return CurthooksSettings(
        mode=str(mode),
        write_files=writefiles.parse(cfg.get("write_files"), "write_files", problems),
        swap=swap.parse(cfg["swap"], "swap", problems) if "swap" in cfg else swap.SwapSettings(),
        cloudconfig=cloudconfig.parse(cfg.get("cloudconfig"), "cloudconfig", problems),
        kernel=system.parse_kernel(cfg.get("kernel"), "kernel", problems),
        hostname=system.parse_hostname(cfg.get("hostname"), "hostname", problems),
        initramfs=system.parse_initramfs(cfg.get("initramfs"), "initramfs", problems),
        disable_overlayroot=system.parse_switch(cfg, "disable_overlayroot"),
        restore_dist_interfaces=system.parse_switch(cfg, "restore_dist_interfaces"),
        system_upgrade=upgrade.parse(cfg.get("system_upgrade"), "system_upgrade", problems),
        crash_dumps=crashdumps.parse(cfg.get("kernel-crash-dumps"), "kernel-crash-dumps", problems),
        apt=apt_settings,
        boot=bootloader.parse(cfg, problems),
    )


def validate_curthooks(cfg: Mapping[str, Any], problems: Problems) -> None:
    section = cfg.get("curthooks")
    if section is not None and not isinstance(section, Mapping):
        problems.error("curthooks", f"expected a mapping like {{mode: auto}}, got {section!r}")
        return
    mode = (section or {}).get("mode", "auto")
    if mode not in ("auto", "builtin", "target"):
        problems.error("curthooks.mode", f"expected auto, builtin or target, got {mode!r}")


def run_steps(ctx: HookContext, stack: str = "curthooks") -> Dict[str, List[str]]:
    results: Dict[str, List[str]] = {}
    with bootloader.uuid_links(ctx.target):
        for step in STEPS:
            with ctx.event(f"{stack}/cmd-curthooks/{step.name}", step.description):
                done = step.run(ctx)
            if done:
                ctx.log.info("curthooks: %s: %s", step.name, ", ".join(done))
            results[step.name] = done
    return results
