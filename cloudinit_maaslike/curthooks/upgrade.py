"""``system_upgrade``, and installing packages, in the target as curtin runs apt.

Off unless ``system_upgrade: {enabled: true}`` (any other shape is off, as in
curtin).  The commands are curtin's: update, download the dist-upgrade, then
apply it, clean the cache, update again and autoremove, all in the target
with daemons kept from starting and no questions asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Mapping

from ..config.keys import as_boolean
from ..config.problems import Problems
from . import apt
from .context import HookContext

APT_OPTIONS = ("--quiet", "--assume-yes", "--option=Dpkg::options::=--force-unsafe-io",
               "--option=Dpkg::Options::=--force-confold")


@dataclass(frozen=True)
class SystemUpgradeSettings:
    enabled: bool = False


def parse(raw: Any, path: str, problems: Problems) -> SystemUpgradeSettings:
    """``system_upgrade``: on only as a mapping whose ``enabled`` curtin reads as true."""
    return SystemUpgradeSettings(enabled=isinstance(raw, Mapping) and as_boolean(raw.get("enabled", False)))


def system_upgrade(ctx: HookContext) -> List[str]:
    if not ctx.settings.system_upgrade.enabled:
        return []
    get = ["eatmydata", "apt-get"] if ctx.has("usr/bin/eatmydata") else ["apt-get"]
    apt.update_in_target(ctx, what="system_upgrade (update)")
    ctx.run(["apt-get", *APT_OPTIONS, "dist-upgrade", "--download-only"], "system_upgrade (download)")
    ctx.run(["apt-get", *APT_OPTIONS, "dist-upgrade"], "system_upgrade")
    ctx.run(["apt-get", "clean"], "system_upgrade (clean)")
    apt.update_in_target(ctx, what="system_upgrade (update)")
    ctx.run([*get, *APT_OPTIONS, "autoremove"], "system_upgrade (autoremove)")
    return ["apt-get dist-upgrade", "apt-get autoremove"]


def install_packages(ctx: HookContext, packages: List[str], what: str) -> None:
    """curtin's package install: update, download, install, clean."""
    apt.update_in_target(ctx, what=f"{what} (update)")
    ctx.run(["apt-get", *APT_OPTIONS, "install", "--download-only", *packages], f"{what} (download)")
    ctx.run(["apt-get", *APT_OPTIONS, "install", *packages], what)
    ctx.run(["apt-get", "clean"], f"{what} (clean)")
