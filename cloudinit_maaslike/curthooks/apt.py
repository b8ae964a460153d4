"""apt in the target, as curtin's ``apt`` section configures it on a Debian-family system.

The legacy top-level keys are translated first (``apt_proxy``, ``apt_mirrors``,
``debconf_selections``), then, in curtin's order: debconf selections, the
sources.list (only when ``preserve_sources_list`` is false), the proxy and
``conf`` files, the preferences file, and the extra ``sources`` followed by
``apt-get update``.  Everything is computed before the first file is written,
so a template naming a mirror nobody gave fails the step with the target
untouched.

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


def translate_legacy(cfg: Mapping[str, Any]) -> Optional[Dict[str, Any]]:
    """The `apt` mapping with curtin's legacy top-level keys moved in; None when apt is not touched.

    Conflicts (which curtin raises on) are reported by `validate`; here the new key wins.
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


# --- validation -------------------------------------------------------------------------------


def validate(cfg: Mapping[str, Any], problems: Problems) -> None:
    """Every problem of `apt` and of the legacy keys; `cfg` may hold only some of them."""
    raw = cfg.get("apt")
    if raw is not None and not isinstance(raw, Mapping):
        problems.error("apt", "expected a mapping")
        return
    _validate_legacy(cfg, raw or {}, problems)
    apt = translate_legacy(cfg)
    if apt is None:
        return
    for key in apt:
        if key not in KEYS:
            problems.warn(f"apt.{key}", "not a key curtin reads; ignored")
    for key in ("primary", "security"):
        _validate_mirrors(apt.get(key), f"apt.{key}", problems)
    if apt.get("security") is not None and apt.get("primary") is None:
        problems.warn("apt.security", "ignored while apt.primary is unset (as in curtin): both mirrors are "
                                      "then the image's own")
    if as_boolean(apt.get("preserve_sources_list", True)):
        for key in ("sources_list", "disable_suites", "disable_components"):
            if apt.get(key) is not None:
                problems.warn(f"apt.{key}", "ignored while apt.preserve_sources_list is true (curtin's default); "
                                            "set it to false to rewrite /etc/apt/sources.list")
    if apt.get("mirrors") is not None:
        problems.warn("apt.mirrors", "curtin only checks it against the legacy apt_mirrors; it has no effect")
    for key in ("sources_list", "conf"):
        if apt.get(key) is not None and not isinstance(apt[key], str):
            problems.error(f"apt.{key}", "expected text")
    for key in ("disable_suites", "disable_components"):
        value = apt.get(key)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
            problems.error(f"apt.{key}", "expected a list of names")
    for key in ("proxy", "http_proxy", "ftp_proxy", "https_proxy"):
        if apt.get(key) is not None and not isinstance(apt[key], str):
            problems.error(f"apt.{key}", "expected a proxy URL")
    _validate_preferences(apt.get("preferences"), problems)
    _validate_sources(apt, problems)
    _validate_selections(apt.get("debconf_selections"), problems)


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


def _validate_mirrors(value: Any, path: str, problems: Problems) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        problems.error(path, "expected a list of {arches: [...], uri: URL} or {arches: [...], search: [URL, ...]}")
        return
    for index, entry in enumerate(value):
        where = f"{path}[{index}]"
        if not isinstance(entry, Mapping):
            problems.error(where, "expected {arches: [...], uri: URL}")
            continue
        for key in entry:
            if key not in MIRROR_KEYS:
                problems.warn(f"{where}.{key}", "not a key curtin reads; ignored")
        arches = entry.get("arches")
        if not isinstance(arches, list) or not all(isinstance(a, str) for a in arches):
            problems.error(f"{where}.arches", "required: a list of dpkg architectures or 'default' (curtin "
                                              "fails without it)")
        if entry.get("uri") is not None and not isinstance(entry["uri"], str):
            problems.error(f"{where}.uri", "expected a mirror URL")
        search = entry.get("search")
        if search is not None and (not isinstance(search, list) or not all(isinstance(s, str) for s in search)):
            problems.error(f"{where}.search", "expected a list of mirror URLs")


def _validate_preferences(value: Any, problems: Problems) -> None:
    if not value:
        return
    if not isinstance(value, list):
        problems.error("apt.preferences", "expected a list of {package, pin, pin-priority}")
        return
    for index, entry in enumerate(value):
        where = f"apt.preferences[{index}]"
        if not isinstance(entry, Mapping):
            problems.error(where, "expected {package, pin, pin-priority}")
            continue
        for key in PREFERENCE_KEYS:
            if entry.get(key) is None:
                problems.error(f"{where}.{key}", "required (curtin fails without it)")
        for key in entry:
            if key not in PREFERENCE_KEYS:
                problems.warn(f"{where}.{key}", "not a key curtin reads; ignored")


def _validate_sources(apt: Mapping[str, Any], problems: Problems) -> None:
    if "sources" not in apt:
        return
    sources = apt["sources"]
    if not isinstance(sources, Mapping):
        problems.error("apt.sources", "expected a mapping of name: {source: 'deb …', key: …}")
        return
    matcher = _repo_matcher(apt, problems)
    for name, entry in sources.items():
        where = f"apt.sources.{name}"
        if not isinstance(entry, Mapping):
            problems.error(where, "expected {source: 'deb …', key: …}")
            continue
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
        source = entry.get("source")
        if source is None:
            continue
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


def _validate_selections(value: Any, problems: Problems) -> None:
    if value is None:
        return
    if not isinstance(value, Mapping):
        problems.error("apt.debconf_selections", "expected a mapping of name: lines")
        return
    for name, text in value.items():
        if not isinstance(text, str):
            problems.error(f"apt.debconf_selections.{name}", "expected debconf-set-selections lines")


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


def select_mirror(entries: Any, arch: str) -> Optional[str]:
    """The first entry listing `arch`, else the last listing "default"; its uri, else its first resolvable search."""
    chosen = None
    for entry in entries or []:
        if arch in entry["arches"]:
            chosen = entry
            break
        if "default" in entry["arches"]:
            chosen = entry
    if chosen is None:
        return None
    if chosen.get("uri") is not None:
        return str(chosen["uri"])
    return next((url for url in chosen.get("search") or [] if is_resolvable(url)), None)


def mirror_variables(ctx: HookContext, apt: Mapping[str, Any]) -> Dict[str, str]:
    """$RELEASE, $PRIMARY (= $MIRROR) and $SECURITY; with no primary configured, the image's own mirrors."""
    arch = target_arch(ctx)
    primary = select_mirror(apt.get("primary"), arch)
    if primary is not None:
        security: Optional[str] = select_mirror(apt.get("security"), arch) or primary
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


def _sources_list(ctx: HookContext, apt: Mapping[str, Any], variables: Mapping[str, str]) -> str:
    template = apt.get("sources_list")
    if template is None:
        # curtin edits the target's own file, replacing Ubuntu's default archive URIs by the
        # configured mirrors; a Debian image never has those, so its content is kept as it is.
        data = targetfs.read_file(ctx.target, "etc/apt/sources.list")
        if data is None:
            raise StepFailed("apt: apt.preserve_sources_list is false without apt.sources_list, but the target "
                             "has no /etc/apt/sources.list to edit (curtin fails too); give apt.sources_list")
        template = data.decode("utf-8", "replace")
    lines = aptsources.render_entries(str(template), variables)
    _refuse_unnamed("".join(f"{e.uri} {e.suite}\n" for e in lines if isinstance(e, aptsources.Entry)),
                    "apt.sources_list")
    release = variables.get("RELEASE", "")
    lines = aptsources.disable_suites(lines, apt.get("disable_suites") or [], release)
    lines = aptsources.disable_components(lines, apt.get("disable_components") or [])
    return aptsources.format_lines(lines)


def source_path(name: str, entry: Mapping[str, Any]) -> Tuple[str, str]:
    """(the sources file inside the target, the key's base name), by curtin's rules."""
    filename = str(entry.get("filename") or name)
    keyname = os.path.basename(filename)
    if not filename.startswith("/"):
        filename = os.path.join("/etc/apt/sources.list.d/", filename)
    stem, ext = os.path.splitext(filename)
    if ext != ".list":
        filename = stem + ".list"
    return filename.lstrip("/"), keyname


def plan(ctx: HookContext, apt: Mapping[str, Any]) -> Plan:
    variables = mirror_variables(ctx, apt)
    found = Plan()
    if not as_boolean(apt.get("preserve_sources_list", True)):
        found.sources_list = _sources_list(ctx, apt, variables)
    for name, entry in (apt.get("sources") or {}).items():
        path, keyname = source_path(str(name), entry)
        if "key" in entry:
            found.keys.append((keyname, entry["key"]))
        if entry.get("source") is not None:
            source = expand(str(entry["source"]), variables)
            _refuse_unnamed(source, f"apt.sources.{name}")
            found.appends.append((path, source.rstrip() + "\n"))
    return found


# --- applying ---------------------------------------------------------------------------------


def configure_apt(ctx: HookContext) -> List[str]:
    apt = translate_legacy(ctx.cfg)
    if apt is None:
        return []
    planned = plan(ctx, apt)
    done: List[str] = []
    done += apply_debconf_selections(ctx, apt.get("debconf_selections"))
    if planned.sources_list is not None:
        done += _write_sources_list(ctx, planned.sources_list)
    done += _write_or_remove(ctx, PROXY_FILE, _proxy_text(apt))
    done += _write_or_remove(ctx, CONF_FILE, apt.get("conf") or None)
    done += _write_or_remove(ctx, PREFERENCES_FILE, _preferences_text(apt.get("preferences")))
    if "sources" in apt:
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


def _proxy_text(apt: Mapping[str, Any]) -> Optional[str]:
    lines = [f'Acquire::{scheme}::Proxy "{apt[key]}";' for key, scheme in PROXY_LINES if apt.get(key)]
    return "\n".join(lines) + "\n" if lines else None


def _preferences_text(preferences: Any) -> Optional[str]:
    if not preferences:
        return None
    return "\n".join(f"Package: {p['package']}\nPin: {p['pin']}\nPin-Priority: {p['pin-priority']}\n"
                     for p in preferences)


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
