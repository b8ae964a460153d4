"""apt in the target: proxy, sources and debconf selections, without the network.

Nothing here runs `apt-get update`: packages are only installed by the steps
that need them (kernel), and only when they do.  `debconf_selections` often
carries MAAS's ``maas-metadata-credentials``: the text is fed on stdin and
never logged.
"""

from __future__ import annotations

import os
import re
from typing import Any, Dict, List, Mapping, Optional

from .. import aptsources, targetfs
from ..config.problems import Problems
from .context import HookContext, StepFailed

PROXY_FILE = "etc/apt/apt.conf.d/90curtin-aptproxy"


def _proxies(cfg: Mapping[str, Any]) -> Dict[str, str]:
    apt = cfg.get("apt") or {}
    found: Dict[str, str] = {}
    for scheme in ("http", "https", "ftp"):
        value = apt.get(f"{scheme}_proxy") or (apt.get("proxy") if scheme == "http" else None)
        if scheme == "http":
            value = value or cfg.get("apt_proxy") or (cfg.get("proxy") or {}).get("http_proxy")
        if value:
            found[scheme] = str(value)
    return found


def _mirror(apt: Mapping[str, Any], key: str) -> Optional[str]:
    for entry in apt.get(key) or []:
        if not isinstance(entry, Mapping) or not entry.get("uri"):
            continue
        arches = entry.get("arches") or ["default"]
        if "default" in arches or "amd64" in arches:
            return str(entry["uri"])
    return None


def _variables(ctx: HookContext, apt: Mapping[str, Any]) -> Dict[str, str]:
    """$RELEASE, $PRIMARY (= $MIRROR) and $SECURITY; mirrors not configured are the image's own."""
    image = aptsources.read_sources(ctx.target, targetfs.resolve)
    primary = _mirror(apt, "primary") or aptsources.primary_mirror(image)
    security = _mirror(apt, "security") or aptsources.security_mirror(image) or primary
    found = {"RELEASE": ctx.os_release().get("VERSION_CODENAME", "")}
    if primary:
        found.update(PRIMARY=primary, MIRROR=primary)
    if security:
        found["SECURITY"] = security
    return found


def _expand_known(template: str, variables: Mapping[str, str], where: str) -> str:
    text = expand(template, variables)
    missing = sorted({m.group(1) or m.group(2) for m in re.finditer(r"\$(?:\{(\w+)\}|(\w+))", text)}
                     & {"PRIMARY", "MIRROR", "SECURITY", "RELEASE"})
    if missing:
        raise StepFailed(f"apt: {where} uses ${missing[0]}, but neither apt.primary/apt.security nor the "
                         "image's own apt sources name a mirror")
    return text


def expand(template: str, variables: Mapping[str, str]) -> str:
    def sub(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return variables.get(name, match.group(0))

    return re.sub(r"\$(?:\{(\w+)\}|(\w+))", sub, template)


def validate(cfg: Mapping[str, Any], problems: Problems) -> None:
    apt = cfg.get("apt")
    if apt is None:
        return
    if not isinstance(apt, Mapping):
        problems.error("apt", "expected a mapping")
        return
    sources = apt.get("sources") or {}
    if not isinstance(sources, Mapping):
        problems.error("apt.sources", "expected a mapping of name: {source: …}")
        return
    for name, entry in sources.items():
        if not isinstance(entry, Mapping):
            problems.error(f"apt.sources.{name}", "expected {source: 'deb …', key: …}")
        elif entry.get("source") is not None and not isinstance(entry.get("source"), str):
            problems.error(f"apt.sources.{name}.source", "expected a line like 'deb URL SUITE COMPONENTS'")
    selections = debconf_selections(cfg)
    if selections is not None and not isinstance(selections, Mapping):
        problems.error("debconf_selections", "expected a mapping of name: lines")


def debconf_selections(cfg: Mapping[str, Any]) -> Optional[Any]:
    apt = cfg.get("apt") or {}
    return apt.get("debconf_selections") or cfg.get("debconf_selections")


def configure_apt(ctx: HookContext) -> List[str]:
    cfg = ctx.cfg
    apt = cfg.get("apt") or {}
    done: List[str] = []
    proxies = _proxies(cfg)
    if proxies:
        text = "".join(f'Acquire::{scheme}::Proxy "{url}";\n' for scheme, url in sorted(proxies.items()))
        ctx.write(PROXY_FILE, text, mode=0o644)
        done.append("/" + PROXY_FILE)
    variables = _variables(ctx, apt)
    if apt.get("sources_list") and not apt.get("preserve_sources_list", False):
        ctx.write("etc/apt/sources.list", _expand_known(str(apt["sources_list"]), variables, "apt.sources_list") + "\n",
                      mode=0o644)
        done.append("/etc/apt/sources.list")
    for name, entry in sorted((apt.get("sources") or {}).items()):
        filename = str(entry.get("filename") or f"{name}.list")
        if not filename.endswith(".list"):
            filename += ".list"
        if entry.get("source"):
            path = os.path.join("etc/apt/sources.list.d", os.path.basename(filename))
            ctx.write(path, _expand_known(str(entry["source"]), variables, f"apt.sources.{name}") + "\n", mode=0o644)
            done.append("/" + path)
        if entry.get("key"):
            key = os.path.join("etc/apt/trusted.gpg.d", os.path.basename(filename)[:-5] + ".asc")
            ctx.write(key, str(entry["key"]), mode=0o644)
            done.append("/" + key)
    selections = debconf_selections(cfg)
    if selections:
        if not ctx.has("usr/bin/debconf-set-selections"):
            ctx.log.warning("curthooks: the target has no debconf-set-selections; skipping "
                            "debconf_selections")
        else:
            text = "".join(str(v).rstrip("\n") + "\n" for _, v in sorted(selections.items()) if v)
            ctx.run(["debconf-set-selections"], "debconf_selections", stdin=text)
            done.append(f"debconf: {', '.join(sorted(selections))}")
    return done
