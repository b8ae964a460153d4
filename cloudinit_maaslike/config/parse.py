"""Parse and validate a merged install config into an `InstallConfig`.

Validation runs over the whole config before any stage runs; every problem
is collected with its key path (`Problems`) and reported at once.  Unknown
keys are warned about with their path.  Sections owned by the parts
(storage, sources, network, curthooks) are checked by validators the install
engine passes in, so this core module does not import the parts.
"""

from __future__ import annotations

import re
from types import MappingProxyType
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from ..errors import ConfigError
from ..oauth import credentials_from
from . import keys
from .checks import check_keys, expect, join, type_name
from .merge import STAGES
from .model import (
    Command,
    DownloadSettings,
    InstallConfig,
    InstallSettings,
    LegacyMaasReporter,
    PowerState,
    Stage,
    Webhook,
)
from .problems import Problems

# A part's validator: problems go to Problems; what it returns (its parsed
# section, if any) is kept in InstallConfig.sections.
Validator = Callable[[Any, str, Problems], Any]
WHOLE = "*"  # a validator under this key (or "*name") gets the whole config (sections that read several keys)

KNOWN_TOP = keys.top_level_names()
KNOWN_INSTALL = keys.section_names("install")
# Keys that belong inside `storage:`; at the top level they mean the layout
# was misplaced, and the install would fall back to simple mode.
STORAGE_LIKE = ("config", "layout", "version", "disks", "partitions", "storage_config", "storage-config")
POWER_MODES = ("reboot", "poweroff", "halt")
_STAGE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


def parse_commands(value: Any, path: str, problems: Problems) -> Tuple[Command, ...]:
    """`<stage>_commands`: a mapping run in sorted key order (or a list, in order)."""
    if value is None:
        return ()
    items: List[Tuple[str, Any]]
    if isinstance(value, Mapping):
        items = sorted(((str(k), v) for k, v in value.items()), key=lambda kv: kv[0])
    elif isinstance(value, list):
        items = [(f"{i:03d}", v) for i, v in enumerate(value)]
    else:
        expect(problems, value, (dict, list), path)
        return ()
    commands = []
    for key, command in items:
        where = join(path, key)
        if not command:  # falsy: skipped, which is how `builtin: null` disables a builtin
            continue
        if isinstance(command, str):
            commands.append(Command(key, shell=command))
        elif isinstance(command, list):
            bad = [i for i, word in enumerate(command) if isinstance(word, (dict, list)) or word is None]
            if bad:
                problems.error(f"{where}[{bad[0]}]", "command words must be strings or numbers")
                continue
            commands.append(Command(key, argv=tuple(str(w) for w in command)))
        else:
            problems.error(where, f"a command is a list or a string, got {type(command).__name__}")
    return tuple(commands)


def _parse_stages(raw: Mapping[str, Any], problems: Problems) -> Tuple[Stage, ...]:
    given = raw.get("stages")
    names: List[Any] = list(STAGES)  # on a bad list, still check the standard stages' commands
    if expect(problems, given, (list,), "stages") and isinstance(given, list):
        names = list(given)
    stages = []
    seen = set()
    for i, name in enumerate(names):
        if not isinstance(name, str) or not _STAGE_NAME.match(name):
            problems.error(f"stages[{i}]", f"not a stage name: {name!r}")
            continue
        if name in seen:
            problems.error(f"stages[{i}]", f"stage {name!r} listed twice")
            continue
        seen.add(name)
        key = f"{name}_commands"
        stages.append(Stage(name, parse_commands(raw.get(key), key, problems)))
    return tuple(stages)


def _optional_path(value: Any, path: str, problems: Problems) -> Optional[str]:
    if value in (None, ""):
        return None
    if expect(problems, value, (str,), path):
        return str(value)
    return None


def _parse_install(raw: Mapping[str, Any], problems: Problems) -> InstallSettings:
    section = raw.get("install") or {}
    if not expect(problems, section, (dict,), "install"):
        return InstallSettings()
    check_keys(problems, section, KNOWN_INSTALL, "install")
    defaults = InstallSettings()
    log_file = _optional_path(section.get("log_file", defaults.log_file), "install.log_file", problems)
    post_files = section.get("post_files", [log_file] if log_file else [])
    if isinstance(post_files, str):
        post_files = [post_files]
    if expect(problems, post_files, (list,), "install.post_files"):
        for i, item in enumerate(post_files):
            expect(problems, item, (str,), f"install.post_files[{i}]")
    unmount = section.get("unmount")
    if unmount not in (None, "disabled", "enabled", True, False):
        problems.error("install.unmount", f"expected 'disabled', got {unmount!r}")
    append = section.get("log_file_append", False)
    expect(problems, append, (bool,), "install.log_file_append")
    rsync_args = section.get("extra_rsync_args") or []
    if not isinstance(rsync_args, list) or not all(isinstance(a, str) for a in rsync_args):
        problems.error("install.extra_rsync_args", f"expected a list of rsync arguments, got {rsync_args!r}")
        rsync_args = []
    return InstallSettings(
        log_file=log_file,
        log_file_append=bool(append),
        error_tarfile=_optional_path(section.get("error_tarfile", defaults.error_tarfile),
                                     "install.error_tarfile", problems),
        post_files=tuple(p for p in post_files if isinstance(p, str)) if isinstance(post_files, list) else (),
        save_install_config=_optional_path(
            section.get("save_install_config", defaults.save_install_config),
            "install.save_install_config", problems),
        save_install_log=_optional_path(section.get("save_install_log", defaults.save_install_log),
                                        "install.save_install_log", problems),
        target=_optional_path(section.get("target"), "install.target", problems),
        unmount=unmount not in ("disabled", False),
        download=_parse_download(section, problems),
        extra_rsync_args=tuple(rsync_args),
    )


def _parse_download(section: Mapping[str, Any], problems: Problems) -> DownloadSettings:
    """``install: download_stall_seconds, download_min_rate, download_stall_retries``."""
    defaults = DownloadSettings()

    def number(key: str, default: float, minimum: float, whole: bool) -> float:
        value = section.get(key)
        if value is None:
            return default
        if (isinstance(value, bool) or not isinstance(value, (int, float))
                or (whole and not isinstance(value, int)) or value < minimum):
            problems.error(f"install.{key}", f"expected {'a whole number' if whole else 'a number'}"
                                             f" >= {minimum:g}, got {value!r}")
            return default
        return float(value)

    return DownloadSettings(
        stall_seconds=float(number("download_stall_seconds", defaults.stall_seconds, 1, False)),
        min_rate=int(number("download_min_rate", defaults.min_rate, 0, True)),
        stall_retries=int(number("download_stall_retries", defaults.stall_retries, 0, True)),
    )


def _credentials(section: Mapping[str, Any], path: str, problems: Problems) -> Any:
    try:
        return credentials_from(section, path)
    except ConfigError as exc:
        problems.error(exc.path, exc.problem)
        return None


def _parse_reporting(raw: Mapping[str, Any], problems: Problems) -> Tuple[Tuple[Webhook, ...], bool]:
    section = raw.get("reporting")
    if section is None:
        return (), True
    if not expect(problems, section, (dict,), "reporting"):
        return (), True
    hooks = []
    log_reporting = True
    for name, spec in section.items():
        path = f"reporting.{name}"
        if not spec:  # a false value removes a handler, as in curtin
            if name == "logging":
                log_reporting = False
            continue
        if not expect(problems, spec, (dict,), path):
            continue
        kind = spec.get("type")
        if kind in ("log", "print", "journald"):
            continue
        if kind != "webhook":
            problems.error(f"{path}.type", f"unknown reporter type {kind!r} (webhook, log, print, journald)")
            continue
        check_keys(problems, spec, ("type", "endpoint", "consumer_key", "token_key", "token_secret",
                                    "consumer_secret", "timeout", "retries", "level"), path)
        endpoint = spec.get("endpoint")
        if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
            problems.error(f"{path}.endpoint", f"expected an http(s) URL, got {endpoint!r}")
            continue
        timeout = spec.get("timeout", 5)
        if not expect(problems, timeout, (int, float), f"{path}.timeout") or timeout <= 0:
            timeout = 5
        retries = spec.get("retries", 2)
        if isinstance(retries, list):  # curtin's form: a list of delays
            retries = len(retries)
        if not expect(problems, retries, (int,), f"{path}.retries"):
            retries = 2
        hooks.append(Webhook(str(name), endpoint, _credentials(spec, path, problems),
                             float(timeout), max(0, int(retries))))
    return tuple(hooks), log_reporting


def _parse_legacy(raw: Mapping[str, Any], problems: Problems) -> Optional[LegacyMaasReporter]:
    section = raw.get("reporter")
    if not section:
        return None
    if not expect(problems, section, (dict,), "reporter"):
        return None
    maas = section.get("maas")
    check_keys(problems, section, ("maas",), "reporter")
    if not maas:
        return None
    if not expect(problems, maas, (dict,), "reporter.maas"):
        return None
    url = maas.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        problems.error("reporter.maas.url", f"expected an http(s) URL, got {url!r}")
        return None
    return LegacyMaasReporter(url, _credentials(maas, "reporter.maas", problems))


def _parse_power(raw: Mapping[str, Any], problems: Problems) -> Optional[PowerState]:
    section = raw.get("power_state")
    if not section:
        return None
    if not expect(problems, section, (dict,), "power_state"):
        return None
    check_keys(problems, section, ("mode", "delay", "message", "timeout", "condition"), "power_state")
    mode = section.get("mode")
    if mode not in POWER_MODES:
        problems.error("power_state.mode", f"expected one of {', '.join(POWER_MODES)}, got {mode!r}")
        return None
    delay = str(section.get("delay", "5"))  # curtin's default: five seconds
    if delay != "now" and not re.fullmatch(r"\+\d+|\d+(\.\d+)?[smhd]?", delay):
        problems.error("power_state.delay", f"expected 'now', minutes like '+5' or seconds like 30, got {delay!r}")
    message = section.get("message")
    return PowerState(str(mode), delay, None if message is None else str(message))


def _parse_kexec(raw: Mapping[str, Any], problems: Problems) -> bool:
    """``kexec: {mode: "on"}``; any other mode, or none, is off, as in curtin.

    curtin reads ``kexec`` only after every stage ran, and a value that is not
    a mapping makes it raise then, with the target already written: here it
    is refused before anything runs.  An unquoted YAML ``on`` is the boolean
    true, which curtin does not take for "on" either; it is worth a warning,
    because the config plainly asks for kexec and gets a firmware reboot.
    """
    section = raw.get("kexec")
    if section is None:
        return False
    if not isinstance(section, Mapping):
        problems.error("kexec", f"expected a mapping like {{mode: \"on\"}}, got {type_name(section)}")
        return False
    check_keys(problems, section, ("mode",), "kexec")
    mode = section.get("mode")
    if mode is True:
        problems.warn("kexec.mode", "an unquoted on is read as true, which is not \"on\": kexec stays off "
                                    "(as in curtin); write mode: \"on\" to turn it on")
    return mode == "on"


def _parse_proxy(raw: Mapping[str, Any], problems: Problems) -> Dict[str, str]:
    section = raw.get("proxy") or {}
    if not expect(problems, section, (dict,), "proxy"):
        return {}
    check_keys(problems, section, ("http_proxy", "https_proxy", "no_proxy"), "proxy")
    out = {}
    for key, value in section.items():
        if value and expect(problems, value, (str,), f"proxy.{key}"):
            out[str(key)] = str(value)
    return out


def _check_sections(raw: Mapping[str, Any], problems: Problems) -> None:
    """Refused keys, unknown nested keys, and a layout that would be missed."""
    for path, why in keys.refusals(raw):
        problems.error(path, f"refused: {why}")
    for section in ("kernel", "boot", "grub", "curthooks", "system_upgrade", "kernel-crash-dumps"):
        if isinstance(raw.get(section), Mapping):
            check_keys(problems, raw[section], keys.section_names(section), section)
    if raw.get("boot") is not None and raw.get("grub"):
        problems.error("grub", "both grub and boot are given (curtin refuses this too): keep boot")
    misplaced = [k for k in STORAGE_LIKE if k in raw]
    if "storage" not in raw and misplaced:
        problems.error(misplaced[0], "a storage key at the top level: without `storage:` the install falls back "
                                     "to simple mode and wipes the first suitable disk; put it under `storage:`")


def parse_install_config(
    raw: Mapping[str, Any],
    validators: Optional[Mapping[str, Validator]] = None,
    where: str = "install config",
) -> InstallConfig:
    """The whole config checked at once; `ConfigInvalid` lists every problem."""
    problems = Problems()
    if not isinstance(raw, Mapping):
        problems.error("(top)", f"expected a mapping, got {type(raw).__name__}")
        problems.raise_if_any(where)
    # `<stage>_commands` is known for every standard stage and every stage the
    # config lists; any other `*_commands` key would never run, so warn.
    listed = raw.get("stages")
    stage_names: List[Any] = list(listed) if isinstance(listed, list) else []
    command_keys = tuple(f"{s}_commands" for s in (*STAGES, "apply_net", *stage_names)
                         if isinstance(s, str))
    check_keys(problems, raw, KNOWN_TOP + command_keys, "", typos_are_errors=True)
    _check_sections(raw, problems)
    stages = _parse_stages(raw, problems)
    install = _parse_install(raw, problems)
    webhooks, log_reporting = _parse_reporting(raw, problems)
    legacy = _parse_legacy(raw, problems)
    power = _parse_power(raw, problems)
    kexec = _parse_kexec(raw, problems)
    proxy = _parse_proxy(raw, problems)
    verbosity = raw.get("verbosity", 0)
    if not expect(problems, verbosity, (int,), "verbosity"):
        verbosity = 0
    showtrace = raw.get("showtrace", False)
    expect(problems, showtrace, (bool,), "showtrace")
    sections: Dict[str, Any] = {}
    for key, validate in (validators or {}).items():
        if key.startswith(WHOLE):  # "*name": the whole config in, the result kept as section `name`
            parsed = validate(raw, "", problems)
            if parsed is not None and key != WHOLE:
                sections[key[len(WHOLE):]] = parsed
        elif key in raw:
            parsed = validate(raw[key], key, problems)
            if parsed is not None:
                sections[key] = parsed
    problems.raise_if_any(where)
    return InstallConfig(
        stages=stages,
        install=install,
        webhooks=webhooks,
        log_reporting=log_reporting,
        legacy_reporter=legacy,
        power_state=power,
        kexec=kexec,
        proxy=proxy,
        verbosity=int(verbosity),
        showtrace=bool(showtrace),
        raw=raw,
        sections=MappingProxyType(sections),
    )
