"""apt in the target, as curtin's ``apt`` section configures it on a Debian-family system.

The legacy top-level keys are translated first (``apt_proxy``, ``apt_mirrors``,
``debconf_selections``), then, in curtin's order: debconf selections, the
sources.list (only when ``preserve_sources_list`` is false), the proxy and
``conf`` files, the preferences file, and the extra ``sources`` followed by
``apt-get update``.  Everything is computed before the first file is written,
so a template naming a mirror nobody gave fails the step with the target
untouched.

The section is parsed once, at validation (`parse`), into a frozen
`AptSettings`; the step reads only that (``ctx.settings.apt``).

The default mirrors are the image's own (curtin's are Ubuntu's archive, which
no Debian image uses).  What needs the network or Ubuntu's tools (keyserver
keys, ``add-apt-repository``, ``proposed``) is refused at validation.
``debconf_selections`` often carries MAAS's ``maas-metadata-credentials``: the
text is fed on stdin and never logged.
"""

from __future__ import annotations

import glob
import os
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union
from urllib.parse import urlparse

from .. import aptsources, targetfs
from ..config.keys import as_boolean
from ..config.problems import Problems
from . import dpkgstatus
from .context import HookContext, StepFailed

PROXY_FILE = "etc/apt/apt.conf.d/90curtin-aptproxy"
CONF_FILE = "etc/apt/apt.conf.d/94curtin-config"
PREFERENCES_FILE = "etc/apt/preferences.d/90curtin.pref"
PRESERVE_FILE = "etc/cloud/cloud.cfg.d/curtin-preserve-sources.cfg"
PRESERVE_TEXT = "apt:\n  preserve_sources_list: true\n"  # curtin's yaml dump of {apt: {preserve_sources_list: true}}
ADD_APT_REPO_MATCH = r"^[\w-]+:\w"
UPDATE = ("apt-get", "--quiet", "--option=Acquire::Languages=none", "update")
UPDATE_RETRY_SLEEPS = (1, 2, 3)
RECONFIGURABLE = ("cloud-init", "cloud-init-base")  # the packages curtin knows how to unconfigure
PROXY_LINES = (("proxy", "http"), ("http_proxy", "http"), ("ftp_proxy", "ftp"), ("https_proxy", "https"))

# Every key of the `apt` mapping this module reads.
KEYS = ("preserve_sources_list", "primary", "security", "sources_list", "disable_suites", "disable_components",
        "proxy", "http_proxy", "ftp_proxy", "https_proxy", "conf", "preferences", "sources", "add_apt_repo_match",
        "debconf_selections", "mirrors")
MIRROR_KEYS = ("arches", "uri", "search")
SOURCE_KEYS = ("source", "filename", "key", "keyid", "keyserver")
PREFERENCE_KEYS = ("package", "pin", "pin-priority")
REFUSED = {
    "sources.*.keyid": "fetching keys from a keyserver is not supported; give the key inline with key:",
    "sources.*.source (matching add_apt_repo_match, e.g. ppa:)": "add-apt-repository is Ubuntu's tool; "
    "give the one-line source and its key instead",
    "sources.*.source: proposed": "the proposed pocket is Ubuntu's; give the one-line source instead",
}


# --- the parsed settings ----------------------------------------------------------------------


@dataclass(frozen=True)
class AptMirror:
    """One entry of ``apt.primary`` or ``apt.security``: the arches it serves, its uri or URLs to search."""

    arches: Tuple[str, ...]
    uri: Optional[str] = None
    search: Tuple[str, ...] = ()


@dataclass(frozen=True)
class AptSource:
    """One entry of ``apt.sources``; `keyid` and `keyserver` are kept but never used (no keyserver fetch)."""

    name: str
    source: Optional[str] = None  # the one-line source, a template ($MIRROR, $RELEASE, …)
    filename: Optional[str] = None
    key: Optional[Union[str, bytes]] = None  # armoured text or the binary key
    keyid: Optional[str] = None
    keyserver: Optional[str] = None

    def paths(self) -> Tuple[str, str]:
        """(the sources file inside the target, the key's base name), by curtin's rules."""
        filename = self.filename or self.name
        keyname = os.path.basename(filename)
        if not filename.startswith("/"):
            filename = os.path.join("/etc/apt/sources.list.d/", filename)
        stem, ext = os.path.splitext(filename)
        if ext != ".list":
            filename = stem + ".list"
        return filename.lstrip("/"), keyname


@dataclass(frozen=True)
class AptPreference:
    """One entry of ``apt.preferences``, its values as curtin formats them."""

    package: str
    pin: str
    pin_priority: str

    def text(self) -> str:
        return f"Package: {self.package}\nPin: {self.pin}\nPin-Priority: {self.pin_priority}\n"


@dataclass(frozen=True)
class AptProxies:
    """``apt.proxy`` (or the legacy ``apt_proxy``) and the per-scheme proxies."""

    proxy: Optional[str] = None
    http_proxy: Optional[str] = None
    ftp_proxy: Optional[str] = None
    https_proxy: Optional[str] = None

    def text(self) -> Optional[str]:
        """The apt.conf lines in curtin's order; None when no proxy is set."""
        values = {"proxy": self.proxy, "http_proxy": self.http_proxy, "ftp_proxy": self.ftp_proxy,
                  "https_proxy": self.https_proxy}
        lines = [f'Acquire::{scheme}::Proxy "{values[key]}";' for key, scheme in PROXY_LINES if values[key]]
        return "\n".join(lines) + "\n" if lines else None


@dataclass(frozen=True)
class AptSettings:
    """The ``apt`` section with curtin's legacy top-level keys moved in, as `parse` reads it.

    The default is curtin's "apt is not touched": no ``apt`` and no legacy key.
    """

    configured: bool = False  # false: configure_apt changes nothing
    preserve_sources_list: bool = True
    primary: Tuple[AptMirror, ...] = ()  # empty: the image's own mirrors
    security: Tuple[AptMirror, ...] = ()  # used only with a primary
    sources_list: Optional[str] = None  # None: the target's own /etc/apt/sources.list is the template
    disable_suites: Tuple[str, ...] = ()
    disable_components: Tuple[str, ...] = ()
    proxies: AptProxies = field(default_factory=AptProxies)
    conf: Optional[str] = None
    preferences: Tuple[AptPreference, ...] = ()
    sources: Optional[Tuple[AptSource, ...]] = None  # None: no ``sources`` key, so no apt-get update either
    debconf_selections: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), repr=False)


# --- parsing ----------------------------------------------------------------------------------


def translate_legacy(cfg: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    """The `apt` mapping with curtin's legacy top-level keys moved in; None when apt is not touched.

    Conflicts (which curtin raises on) are reported by `parse`; here the new key wins.
    """
    apt = dict(cfg.get("apt") or {}) if isinstance(cfg.get("apt") or {}, Mapping) else {}
    touched = cfg.get("apt") is not None
    if cfg.get("apt_proxy") is not None:
        apt.setdefault("proxy", cfg["apt_proxy"])
        touched = True
    mirrors = cfg.get("apt_mirrors")
    if isinstance(mirrors, Mapping):
        apt["primary"] = [{"arches": ["default"], "uri": mirrors.get("ubuntu_archive")}]
        apt["security"] = [{"arches": ["default"], "uri": mirrors.get("ubuntu_security")}]
        apt["preserve_sources_list"] = False
        touched = True
    if cfg.get("debconf_selections") is not None:
        apt.setdefault("debconf_selections", cfg["debconf_selections"])
        touched = True
    return apt if touched else None


def parse(cfg: Mapping[str, Any], problems: Problems) -> AptSettings:
    """`apt` and the legacy keys of the whole config (which may hold only some of them), every problem reported.

    With problems the result is what could be read; the caller raises before any step uses it.
    """
    raw = cfg.get("apt")
    if raw is not None and not isinstance(raw, Mapping):
        problems.error("apt", "expected a mapping")
        return AptSettings()
    _validate_legacy(cfg, raw or {}, problems)
    apt = translate_legacy(cfg)
    if apt is None:
        return AptSettings()
    for key in apt:
        if key not in KEYS:
            problems.warn(f"apt.{key}", "not a key curtin reads; ignored")
    primary = _parse_mirrors(apt.get("primary"), "apt.primary", problems)
    security = _parse_mirrors(apt.get("security"), "apt.security", problems)
    preserve = as_boolean(apt.get("preserve_sources_list", True))
    _warn_ineffective(apt, preserve, problems)
    sources_list = _text(apt, "sources_list", problems)
    conf = _text(apt, "conf", problems)
    disable_suites = _names(apt, "disable_suites", problems)
    disable_components = _names(apt, "disable_components", problems)
    proxies = {key: _proxy(apt, key, problems) for key in ("proxy", "http_proxy", "ftp_proxy", "https_proxy")}
    preferences = _parse_preferences(apt.get("preferences"), problems)
    sources = _parse_sources(apt, problems)
    selections = _parse_selections(apt.get("debconf_selections"), problems)
    return AptSettings(
        configured=True, preserve_sources_list=preserve, primary=primary, security=security,
        sources_list=sources_list, disable_suites=disable_suites, disable_components=disable_components,
        proxies=AptProxies(**proxies), conf=conf or None, preferences=preferences, sources=sources,
        debconf_selections=selections)


def _validate_legacy(cfg: Mapping[str, Any], apt: Mapping[str, Any], problems: Problems) -> None:
    exclusive = "give one spelling only; curtin stops on both (keep the one under apt:)"
    if cfg.get("apt_proxy") is not None and apt.get("proxy") is not None:
        problems.error("apt_proxy", f"set together with apt.proxy: {exclusive}")
    mirrors = cfg.get("apt_mirrors")
    if mirrors is not None:
        if not isinstance(mirrors, Mapping):
            problems.error("apt_mirrors", "expected {ubuntu_archive: URL, ubuntu_security: URL}")
        if apt.get("mirrors") is not None:
            problems.error("apt_mirrors", f"set together with apt.mirrors: {exclusive}")
        if apt.get("preserve_sources_list") is not None and as_boolean(apt["preserve_sources_list"]):
            problems.error("apt_mirrors", "apt_mirrors rewrites the sources, apt.preserve_sources_list: true "
                                          "keeps them; curtin stops on both")
    if cfg.get("debconf_selections") is not None and apt.get("debconf_selections") is not None:
        problems.error("debconf_selections", f"set together with apt.debconf_selections: {exclusive}")


def _warn_ineffective(apt: Mapping[str, Any], preserve: bool, problems: Problems) -> None:
    """Keys that are valid but change nothing as configured."""
    if apt.get("security") is not None and apt.get("primary") is None:
        problems.warn("apt.security", "ignored while apt.primary is unset (as in curtin): both mirrors are "
                                      "then the image's own")
    if preserve:
        for key in ("sources_list", "disable_suites", "disable_components"):
            if apt.get(key) is not None:
                problems.warn(f"apt.{key}", "ignored while apt.preserve_sources_list is true (curtin's default); "
                                            "set it to false to rewrite /etc/apt/sources.list")
    if apt.get("mirrors") is not None:
        problems.warn("apt.mirrors", "curtin only checks it against the legacy apt_mirrors; it has no effect")


def _is_names(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _text(apt: Mapping[str, Any], key: str, problems: Problems) -> Optional[str]:
    value = apt.get(key)
    if value is not None and not isinstance(value, str):
        problems.error(f"apt.{key}", "expected text")
        return None
    return value


def _names(apt: Mapping[str, Any], key: str, problems: Problems) -> Tuple[str, ...]:
    value = apt.get(key)
    if value is None:
        return ()
    if not _is_names(value):
        problems.error(f"apt.{key}", "expected a list of names")
        return ()
    return tuple(value)


def _proxy(apt: Mapping[str, Any], key: str, problems: Problems) -> Optional[str]:
    value = apt.get(key)
    if value is not None and not isinstance(value, str):
        problems.error(f"apt.{key}", "expected a proxy URL")
        return None
    return value


def _parse_mirrors(value: Any, path: str, problems: Problems) -> Tuple[AptMirror, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        problems.error(path, "expected a list of {arches: [...], uri: URL} or {arches: [...], search: [URL, ...]}")
        return ()
    found = []
    for index, entry in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(entry, Mapping):
            problems.error(where, "expected {arches: [...], uri: URL}")
            continue
        for key in entry:
            if key not in MIRROR_KEYS:
                problems.warn(f"{where}.{key}", "not a key curtin reads; ignored")
        arches, uri, search = entry.get("arches"), entry.get("uri"), entry.get("search")
        valid = True
        if not _is_names(arches):
            problems.error(f"{where}.arches", "required: a list of dpkg architectures or 'default' (curtin "
                                              "fails without it)")
            valid = False
        if uri is not None and not isinstance(uri, str):
            problems.error(f"{where}.uri", "expected a mirror URL")
            valid = False
        if search is not None and not _is_names(search):
            problems.error(f"{where}.search", "expected a list of mirror URLs")
            valid = False
        if valid:
            found.append(AptMirror(tuple(entry["arches"]), uri, tuple(search or ())))
    return tuple(found)


def _parse_preferences(value: Any, problems: Problems) -> Tuple[AptPreference, ...]:
    if not value:
        return ()
    if not isinstance(value, list):
        problems.error("apt.preferences", "expected a list of {package, pin, pin-priority}")
        return ()
    found = []
    for index, entry in enumerate(value):
        where = f"apt.preferences[{index}]"
        if not isinstance(entry, Mapping):
            problems.error(where, "expected {package, pin, pin-priority}")
            continue
        missing = [key for key in PREFERENCE_KEYS if entry.get(key) is None]
        for key in missing:
            problems.error(f"{where}.{key}", "required (curtin fails without it)")
        for key in entry:
            if key not in PREFERENCE_KEYS:
                problems.warn(f"{where}.{key}", "not a key curtin reads; ignored")
        if not missing:
            found.append(AptPreference(*(f"{entry[key]}" for key in PREFERENCE_KEYS)))
    return tuple(found)


def _parse_sources(apt: Mapping[str, Any], problems: Problems) -> Optional[Tuple[AptSource, ...]]:
    if "sources" not in apt:
        return None
    sources = apt["sources"]
    if not isinstance(sources, Mapping):
        problems.error("apt.sources", "expected a mapping of name: {source: 'deb …', key: …}")
        return ()
    matcher = _repo_matcher(apt, problems)
    found = []
    for name, entry in sources.items():
        where = f"apt.sources.{name}"
        if not isinstance(entry, Mapping):
            problems.error(where, "expected {source: 'deb …', key: …}")
            continue
        _check_source_keys(entry, where, problems)
        source = entry.get("source")
        if source is not None:
            _check_source_line(source, matcher, where, problems)
        filename, key = entry.get("filename"), entry.get("key")
        found.append(AptSource(
            name=str(name), source=source if isinstance(source, str) else None,
            filename=filename if isinstance(filename, str) else None,
            key=key if isinstance(key, (str, bytes)) else None,
            keyid=None if entry.get("keyid") is None else str(entry["keyid"]),
            keyserver=None if entry.get("keyserver") is None else str(entry["keyserver"])))
    return tuple(found)


def _check_source_keys(entry: Mapping[str, Any], where: str, problems: Problems) -> None:
    for key in entry:
        if key not in SOURCE_KEYS:
            problems.warn(f"{where}.{key}", "not a key curtin reads; ignored")
    if "filename" in entry and not isinstance(entry["filename"], str):
        problems.error(f"{where}.filename", "expected a file name")
    if "key" in entry and not isinstance(entry["key"], (str, bytes)):
        problems.error(f"{where}.key", "expected the key's text (armoured) or bytes")
    if "keyid" in entry and "key" not in entry:
        problems.error(f"{where}.keyid", REFUSED["sources.*.keyid"])
    elif "keyid" in entry or "keyserver" in entry:
        problems.warn(f"{where}.{'keyid' if 'keyid' in entry else 'keyserver'}",
                      "ignored: curtin only uses it to fetch a key when key: is absent")


def _check_source_line(source: Any, matcher: Optional[re.Pattern[str]], where: str, problems: Problems) -> None:
    if not isinstance(source, str):
        problems.error(f"{where}.source", "expected a line like 'deb URL SUITE COMPONENTS'")
    elif matcher is not None and matcher.search(source):
        problems.error(f"{where}.source", f"{source!r} would go to add-apt-repository, Ubuntu's tool: "
                                          "not supported; give the one-line source and its key instead")
    elif source == "proposed":
        problems.error(f"{where}.source", REFUSED["sources.*.source: proposed"])


def _repo_matcher(apt: Mapping[str, Any], problems: Problems) -> Optional[re.Pattern[str]]:
    pattern = apt.get("add_apt_repo_match", ADD_APT_REPO_MATCH)
    if not pattern:
        problems.error("apt.add_apt_repo_match", "must be a pattern when apt.sources is set (curtin fails)")
        return None
    try:
        return re.compile(str(pattern))
    except re.error as failure:
        problems.error("apt.add_apt_repo_match", f"not a valid pattern: {failure}")
        return None


def _parse_selections(value: Any, problems: Problems) -> Mapping[str, str]:
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, Mapping):
        problems.error("apt.debconf_selections", "expected a mapping of name: lines")
        return MappingProxyType({})
    found = {}
    for name, text in value.items():
        if not isinstance(text, str):
            problems.error(f"apt.debconf_selections.{name}", "expected debconf-set-selections lines")
            continue
        found[str(name)] = text
    return MappingProxyType(found)


# --- mirrors ----------------------------------------------------------------------------------


def target_arch(ctx: HookContext) -> str:
    """The target's dpkg architecture: its var/lib/dpkg/arch, else the host machine's."""
    data = targetfs.read_file(ctx.target, "var/lib/dpkg/arch", 4096)
    words = data.decode("utf-8", "replace").split() if data else []
    if words:
        return words[0]
    return dpkgstatus.host_arch()


def is_resolvable(url: str, timeout: float = 5.0) -> bool:
    """Whether the URL's host name resolves within `timeout` seconds (curtin's DNS-redirect check is not done)."""
    host = urlparse(url).hostname
    if not host:
        return False
    found: List[bool] = []

    def lookup() -> None:
        try:
            found.append(bool(socket.getaddrinfo(host, None)))
        except (OSError, UnicodeError):
            found.append(False)

    worker = threading.Thread(target=lookup, daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(found and found[0])


def select_mirror(entries: Sequence[AptMirror], arch: str) -> Optional[str]:
    """The first entry listing `arch`, else the last listing "default"; its uri, else its first resolvable search."""
    chosen = None
    for entry in entries:
        if arch in entry.arches:
            chosen = entry
            break
        if "default" in entry.arches:
            chosen = entry
    if chosen is None:
        return None
    if chosen.uri is not None:
        return chosen.uri
    return next((url for url in chosen.search if is_resolvable(url)), None)


def mirror_variables(ctx: HookContext, settings: AptSettings) -> Dict[str, str]:
    """$RELEASE, $PRIMARY (= $MIRROR) and $SECURITY; with no primary configured, the image's own mirrors."""
    arch = target_arch(ctx)
    primary = select_mirror(settings.primary, arch)
    if primary is not None:
        security: Optional[str] = select_mirror(settings.security, arch) or primary
    else:
        image = aptsources.read_sources(ctx.target, targetfs.resolve)
        primary = aptsources.primary_mirror(image)
        security = aptsources.security_mirror(image) or primary
    found = {"RELEASE": ctx.os_release().get("VERSION_CODENAME", "")}
    if primary:
        found.update(PRIMARY=primary, MIRROR=primary)
    if security:
        found["SECURITY"] = security
    return found


def _refuse_unnamed(text: str, where: str) -> None:
    missing = sorted({m.group(1) or m.group(2) for m in re.finditer(r"\$(?:\{(\w+)\}|(\w+))", text)}
                     & {"PRIMARY", "MIRROR", "SECURITY", "RELEASE"})
    if missing:
        raise StepFailed(f"apt: {where} uses ${missing[0]}, but neither apt.primary/apt.security nor the "
                         "image's own apt sources name a mirror")


def expand(template: str, variables: Mapping[str, str]) -> str:
    return aptsources.render(template, variables)


# --- the plan ---------------------------------------------------------------------------------


@dataclass
class Plan:
    """What configure_apt writes, computed before anything is."""

    sources_list: Optional[str] = None
    appends: List[Tuple[str, str]] = field(default_factory=list)  # (target path, block)
    keys: List[Tuple[str, Union[str, bytes]]] = field(default_factory=list)


def render_sources_list(template: str, variables: Mapping[str, str], disable_suites: Sequence[str] = (),
                        disable_components: Sequence[str] = ()) -> str:
    """The sources.list from `template`: variables expanded, suites commented out, components dropped."""
    lines = aptsources.render_entries(template, variables)
    _refuse_unnamed("".join(f"{e.uri} {e.suite}\n" for e in lines if isinstance(e, aptsources.Entry)),
                    "apt.sources_list")
    release = variables.get("RELEASE", "")
    lines = aptsources.disable_suites(lines, disable_suites, release)
    lines = aptsources.disable_components(lines, disable_components)
    return aptsources.format_lines(lines)


def _sources_list(ctx: HookContext, settings: AptSettings, variables: Mapping[str, str]) -> str:
    template = settings.sources_list
    if template is None:
        # curtin edits the target's own file, replacing Ubuntu's default archive URIs by the
        # configured mirrors; a Debian image never has those, so its content is kept as it is.
        data = targetfs.read_file(ctx.target, "etc/apt/sources.list")
        if data is None:
            raise StepFailed("apt: apt.preserve_sources_list is false without apt.sources_list, but the target "
                             "has no /etc/apt/sources.list to edit (curtin fails too); give apt.sources_list")
        template = data.decode("utf-8", "replace")
    return render_sources_list(template, variables, settings.disable_suites, settings.disable_components)


def plan(ctx: HookContext, settings: AptSettings) -> Plan:
    variables = mirror_variables(ctx, settings)
    found = Plan()
    if not settings.preserve_sources_list:
        found.sources_list = _sources_list(ctx, settings, variables)
    for entry in settings.sources or ():
        path, keyname = entry.paths()
        if entry.key is not None:
            found.keys.append((keyname, entry.key))
        if entry.source is not None:
            source = expand(entry.source, variables)
            _refuse_unnamed(source, f"apt.sources.{entry.name}")
            found.appends.append((path, source.rstrip() + "\n"))
    return found


# --- applying ---------------------------------------------------------------------------------


def configure_apt(ctx: HookContext) -> List[str]:
    """The step: reads only the parsed settings (``ctx.settings.apt``), never the raw config."""
    settings = ctx.settings.apt
    if not settings.configured:
        return []
    planned = plan(ctx, settings)
    done: List[str] = []
    done += apply_debconf_selections(ctx, settings.debconf_selections)
    if planned.sources_list is not None:
        done += _write_sources_list(ctx, planned.sources_list)
    done += _write_or_remove(ctx, PROXY_FILE, settings.proxies.text())
    done += _write_or_remove(ctx, CONF_FILE, settings.conf)
    done += _write_or_remove(ctx, PREFERENCES_FILE, preferences_text(settings.preferences))
    if settings.sources is not None:
        done += _add_sources(ctx, planned)
        update_in_target(ctx)
        done.append("apt-get update")
    return done


def _write_sources_list(ctx: HookContext, text: str) -> List[str]:
    if ctx.has("etc/apt/sources.list"):
        os.replace(ctx.path("etc/apt/sources.list"), ctx.path("etc/apt/sources.list.curtin.orig"))
    ctx.write("etc/apt/sources.list", text, mode=0o644)
    done = ["/etc/apt/sources.list"]
    # curtin asks dpkg for cloud-init's version; its binary is the approximation here.
    # (rename_apt_lists is not done: it only renames lists of Ubuntu's default mirrors.)
    if ctx.has("usr/bin/cloud-init"):
        ctx.write(PRESERVE_FILE, PRESERVE_TEXT, mode=0o644)
        done.append("/" + PRESERVE_FILE)
    return done


def preferences_text(preferences: Sequence[AptPreference]) -> Optional[str]:
    """The preferences file's text; None when there is none to write."""
    if not preferences:
        return None
    return "\n".join(p.text() for p in preferences)


def _write_or_remove(ctx: HookContext, relative: str, text: Optional[str]) -> List[str]:
    if text is not None:
        ctx.write(relative, str(text), mode=0o644)
        return ["/" + relative]
    if os.path.isfile(ctx.path(relative)):
        os.unlink(ctx.path(relative))
        return [f"removed /{relative}"]
    return []


def _add_sources(ctx: HookContext, planned: Plan) -> List[str]:
    done = []
    for keyname, key in planned.keys:
        if isinstance(key, str) and "-----BEGIN PGP PUBLIC KEY BLOCK-----" in key:
            written = ctx.write(f"etc/apt/trusted.gpg.d/{keyname}.asc", key.rstrip(), mode=0o644)
        else:
            data = key.encode() if isinstance(key, str) else key
            written = ctx.write(f"etc/apt/trusted.gpg.d/{keyname}.gpg", data, mode=0o644)
        done.append("/" + os.path.relpath(written, os.path.realpath(ctx.target)))
    for path, block in planned.appends:
        existing = (targetfs.read_file(ctx.target, path) or b"").decode("utf-8", "replace")
        # curtin always appends; skipping a block already there (an extension) makes a rerun
        # leave the same target.
        if ("\n" + existing).find("\n" + block) < 0:
            if existing and not existing.endswith("\n"):
                existing += "\n"
            ctx.write(path, existing + block, mode=0o644)
        done.append("/" + path)
    return done


def update_in_target(ctx: HookContext, sleeps: Sequence[int] = UPDATE_RETRY_SLEEPS,
                     what: str = "apt.sources") -> None:
    """``apt-get update`` in the target, retried after each sleep as curtin does."""
    for delay in sleeps:
        if ctx.in_target(list(UPDATE), None).returncode == 0:
            return
        ctx.log.warning("apt: apt-get update failed in the target; retrying in %ss", delay)
        time.sleep(delay)
    ctx.run(list(UPDATE), what)


# --- debconf ----------------------------------------------------------------------------------


def apply_debconf_selections(ctx: HookContext, selections: Optional[Mapping[str, str]]) -> List[str]:
    """Feed the selections to debconf-set-selections, then reconfigure what curtin can: cloud-init."""
    if not selections:
        return []
    text = "\n".join(selections[key] for key in sorted(selections)) + "\n"
    ctx.run(["debconf-set-selections"], "apt.debconf_selections", stdin=text)
    named = {re.sub(r"[:\s].*", "", line) for value in selections.values()
             for line in value.splitlines() if not line.startswith("#")}
    preseeded = sorted(named & set(dpkgstatus.installed(ctx.target)))
    reconfigure = [p for p in preseeded if p in RECONFIGURABLE]
    others = [p for p in preseeded if p not in RECONFIGURABLE]
    if others:
        ctx.log.warning("apt: preseeded for %s; only cloud-init is reconfigured now, the rest "
                        "takes the answers at its next configure", ", ".join(others))
    done = [f"debconf: {', '.join(sorted(selections))}"]
    if reconfigure:
        for leftover in sorted(glob.glob(os.path.join(ctx.path("etc/cloud/cloud.cfg.d"), "*dpkg*"))):
            os.unlink(leftover)
        ctx.run(["dpkg-reconfigure", "--frontend=noninteractive", *reconfigure], "apt.debconf_selections")
        done.append(f"dpkg-reconfigure {' '.join(reconfigure)}")
    return done
