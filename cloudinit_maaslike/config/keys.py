"""Every key of curtin's config, and what it means here: curtin's meaning, more, or a refusal.

One table, read by validation (unknown keys warn, typos of top-level keys
and refused keys are errors) and by the test that checks
``docs/curtin-keys.rst``, so the documentation cannot drift from the code.
A refused key is accepted when its value turns the feature off, so a config
written for curtin that merely disables something still runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

SAME = "same"
EXTENDED = "extended"
REFUSED = "refused"


FALSE_VALUES: Tuple[Any, ...] = (False, None, 0, "0", "False", "false", "None", "none", "")


def as_boolean(value: Any) -> bool:
    """curtin's `value_as_boolean`: only these values are false (so ``'no'`` is true)."""
    return value not in FALSE_VALUES


def _falsy(value: Any) -> bool:
    return not as_boolean(value)


def _empty(value: Any) -> bool:
    """For keys curtin does not have: nothing asked for."""
    return not value


def _never(value: Any) -> bool:
    return False


def _pollinate_off(value: Any) -> bool:
    return _falsy(value) or (isinstance(value, Mapping) and value.get("user_agent") is False)


def _multipath_off(value: Any) -> bool:
    return _falsy(value) or (isinstance(value, Mapping) and value.get("mode", "auto") in ("auto", "disabled"))


@dataclass(frozen=True)
class Key:
    path: str
    status: str
    note: str = ""
    off: Callable[[Any], bool] = _never  # for a refused key: values that disable it (accepted)


_STAGE_COMMANDS = tuple(
    Key(f"{stage}_commands", SAME) for stage in
    ("early", "partitioning", "network", "extract", "curthooks", "hook", "late", "apply_net"))

TOP: Tuple[Key, ...] = (
    Key("stages", SAME),
    *_STAGE_COMMANDS,
    Key("install", EXTENDED, "adds download_stall_seconds, download_min_rate, download_stall_retries"),
    Key("sources", EXTENDED, "also fsimage-layered, and http(s) sources stream with resume and stall detection"),
    Key("storage", SAME, "versions 1 and 2, the types of curtin/block/schemas.py"),
    Key("block-meta", SAME),
    Key("network", SAME),
    Key("reporting", EXTENDED, "a webhook's credentials may be given inline or as a MAAS token string"),
    Key("reporter", SAME),
    Key("power_state", SAME),
    Key("proxy", SAME),
    Key("http_proxy", SAME, "legacy spelling of proxy.http_proxy"),
    Key("apt", SAME, "Debian-family targets; see the apt rows"),
    Key("apt_proxy", SAME, "legacy spelling of apt.proxy"),
    Key("apt_mirrors", SAME, "legacy spelling of apt.primary/apt.security"),
    Key("debconf_selections", SAME, "legacy spelling of apt.debconf_selections"),
    Key("write_files", EXTENDED, "also cloud-init's encodings (b64, gz, gz+b64) and append"),
    Key("cloudconfig", EXTENDED, "without permissions, a file holding credentials is written 0600"),
    Key("swap", SAME),
    Key("kernel", EXTENDED, "a kernel is installed only when the image has none"),
    Key("boot", SAME),
    Key("grub", SAME, "legacy name of boot"),
    Key("grub_install_devices", SAME, "legacy spelling of boot.install_devices"),
    Key("curthooks", EXTENDED, "mode: builtin also skips the image's hook; see curthooks.mode"),
    Key("disable_overlayroot", SAME),
    Key("restore_dist_interfaces", SAME),
    Key("kernel-crash-dumps", SAME),
    Key("system_upgrade", SAME, "enabled: true runs apt-get dist-upgrade and autoremove in the target"),
    Key("verbosity", SAME),
    Key("showtrace", SAME),
    Key("initramfs", EXTENDED, "not curtin's: initramfs.update auto|always|never"),
    Key("multipath", REFUSED, "multipath support is not built; accepted with mode auto or disabled "
        "(no multipath device is configured)", _multipath_off),
    Key("kexec", EXTENDED, "mode: \"on\" loads the default entry of the target's grub.cfg with kexec, then reboots "
        "now; set default is honoured (curtin's pattern never matches it and loads entry 0), and the kernel and "
        "initrd are read inside the target (curtin reads their paths on the installer)"),
    Key("pollinate", REFUSED, "Ubuntu only (pollinate is not in Debian); set user_agent: false", _pollinate_off),
    Key("snap", REFUSED, "Ubuntu only, and not a curtin key (subiquity's)", _empty),
    Key("livepatch", REFUSED, "Ubuntu only, and not a curtin key", _empty),
    Key("ubuntu_advantage", REFUSED, "Ubuntu only, and not a curtin key", _empty),
    Key("ubuntu_pro", REFUSED, "Ubuntu only, and not a curtin key", _empty),
    Key("timezone", REFUSED, "not a curtin key (curtin ignores it); give it to the installed system's cloud-init "
        "with cloudconfig: {tz: {content: 'timezone: Europe/Paris'}}", _empty),
    Key("locale", REFUSED, "not a curtin key (curtin ignores it); give it to the installed system's cloud-init "
        "with cloudconfig: {locale: {content: 'locale: en_GB.UTF-8'}}", _empty),
    Key("_ammend_centos_curthooks", REFUSED, "CentOS targets are not supported", _falsy),
)

# Nested keys of the sections this module checks (apt checks its own, see curthooks/apt.py).
NESTED: Dict[str, Tuple[Key, ...]] = {
    "system_upgrade": (Key("system_upgrade.enabled", SAME),),
    "kernel-crash-dumps": (Key("kernel-crash-dumps.enabled", SAME),),
    "install": (
        Key("install.log_file", SAME), Key("install.log_file_append", SAME), Key("install.error_tarfile", SAME),
        Key("install.post_files", SAME), Key("install.save_install_config", SAME),
        Key("install.save_install_log", SAME), Key("install.target", SAME), Key("install.unmount", SAME),
        Key("install.resume_data", REFUSED, "curtin's resume across separate curtin invocations is not built: one "
            "maaslike install runs every stage, and cloud-init's modules resume through the work directory",
            lambda v: v is None), Key("install.extra_rsync_args", SAME), Key("install.maas", SAME),
        Key("install.download_stall_seconds", EXTENDED, "seconds of too little progress that make a stall"),
        Key("install.download_min_rate", EXTENDED, "bytes per second below which a download is stalling"),
        Key("install.download_stall_retries", EXTENDED, "resumes of a stalled download before failing"),
    ),
    "swap": (Key("swap.size", SAME), Key("swap.maxsize", SAME), Key("swap.filename", SAME),
             Key("swap.force", SAME)),
    "kernel": (
        Key("kernel.package", EXTENDED, "installed only when the image has no kernel"),
        Key("kernel.install", SAME),
        Key("kernel.fallback-package", EXTENDED, "the package when none is named (curtin's default, linux-generic, "
            "is Ubuntu's; without it, linux-image-<arch> on Debian)"),
        Key("kernel.fallback_package", EXTENDED, "curtin's other spelling of fallback-package"),
        Key("kernel.mapping", EXTENDED, "looked up as curtin does (linux-<flavor><suffix> for the installer's "
            "running kernel, by the target's codename), when no package is named and the image has no kernel; "
            "curtin's built-in table is Ubuntu's and is not carried"),
        Key("kernel.remove", REFUSED, "removing kernels is not built", lambda v: v is None),
    ),
    "boot": (
        Key("boot.bootloaders", SAME, "grub only; extlinux is refused", lambda v: True),
        Key("boot.install_devices", SAME),
        Key("boot.replace_linux_default", SAME),
        Key("boot.probe_additional_os", SAME),
        Key("boot.terminal", SAME),
        Key("boot.update_nvram", SAME),
        Key("boot.kernel_cmdline", EXTENDED, "not curtin's: words put before the carried-over ones"),
        Key("boot.reorder_uefi", SAME, "UEFI: BootCurrent first, or the fallback order when there is none"),
        Key("boot.reorder_uefi_force_fallback", SAME),
        Key("boot.remove_duplicate_entries", SAME),
        Key("boot.remove_old_uefi_loaders", SAME),
        Key("boot.alternatives", REFUSED, "extlinux is not built", lambda v: v is None),
    ),
    "power_state": (Key("power_state.mode", SAME), Key("power_state.delay", SAME),
                    Key("power_state.message", SAME), Key("power_state.timeout", SAME),
                    Key("power_state.condition", SAME)),
    "block-meta": (
        Key("block-meta.devices", SAME),
        Key("block-meta.format", SAME, "uefi, gpt, mbr or msdos; prep (PowerPC) is refused"),
        Key("block-meta.boot-partition", REFUSED, "simple mode's separate boot partition is not built; describe "
            "the layout with storage: instead", lambda v: not (isinstance(v, Mapping) and v.get("enabled"))),
    ),
    "curthooks": (Key("curthooks.mode", EXTENDED, "also builtin: run only the built-in steps"),),
    "proxy": (Key("proxy.http_proxy", SAME), Key("proxy.https_proxy", SAME), Key("proxy.no_proxy", SAME)),
}
NESTED["grub"] = tuple(Key("grub" + k.path[4:], k.status, k.note, k.off) for k in NESTED["boot"])


def top_level_names() -> Tuple[str, ...]:
    return tuple(k.path for k in TOP)


def section_names(section: str) -> Tuple[str, ...]:
    return tuple(k.path.split(".", 1)[1] for k in NESTED.get(section, ()))


def find(path: str) -> Optional[Key]:
    section = path.split(".", 1)[0]
    for key in (*TOP, *NESTED.get(section, ())):
        if key.path == path:
            return key
    return None


def refusal(path: str, value: Any) -> Optional[str]:
    """Why `value` at `path` is refused, or None when it is accepted."""
    key = find(path)
    if key is None or key.status != REFUSED or key.off(value):
        return None
    return key.note


def refusals(raw: Mapping[str, Any]) -> Tuple[Tuple[str, str], ...]:
    """(path, reason) for every refused key a config sets, top-level and nested."""
    found = []
    for name, value in raw.items():
        why = refusal(str(name), value)
        if why:
            found.append((str(name), why))
        if str(name) in NESTED and isinstance(value, Mapping):
            for inner, inner_value in value.items():
                why = refusal(f"{name}.{inner}", inner_value)
                if why:
                    found.append((f"{name}.{inner}", why))
    return tuple(found)
