"""``kernel-crash-dumps``: kdump-tools switched on or off, as curtin does it.

Unset (``enabled`` null): kdump-tools' own script decides, when the image has
it.  ``true``: kdump-tools is installed if missing and the script turns
dumps on (a warning if that kdump-tools has no such script).  ``false``: the
script turns them off, when kdump-tools is installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Mapping, Optional

from ..config.problems import Problems
from . import dpkgstatus, upgrade
from .context import HookContext

SCRIPT = "/usr/share/kdump-tools/kdump_set_default"


@dataclass(frozen=True)
class CrashDumpSettings:
    enabled: Optional[bool] = None  # None: kdump-tools' own script decides


def parse(raw: Any, path: str, problems: Problems) -> CrashDumpSettings:
    """``kernel-crash-dumps``: ``enabled`` as curtin reads it (null: automatic, else Python's truth)."""
    if not raw:
        return CrashDumpSettings()
    if not isinstance(raw, Mapping):
        problems.error(path, f"expected {{enabled: true|false|null}}, got {raw!r}")
        return CrashDumpSettings()
    enabled = raw.get("enabled")
    return CrashDumpSettings(enabled=None if enabled is None else bool(enabled))


def configure(ctx: HookContext) -> List[str]:
    enabled = ctx.settings.crash_dumps.enabled
    has_script = ctx.has(SCRIPT.lstrip("/"))
    if enabled is None:
        if not has_script:
            return []
        ctx.run([SCRIPT], "kernel-crash-dumps")
        return [f"{SCRIPT} (automatic)"]
    if enabled:
        if "kdump-tools" not in dpkgstatus.installed(ctx.target):
            upgrade.install_packages(ctx, ["kdump-tools"], "kernel-crash-dumps")
        if not ctx.has(SCRIPT.lstrip("/")):
            ctx.log.warning("curthooks: kernel-crash-dumps: kdump-tools has no %s; not running it", SCRIPT)
            return ["kdump-tools"]
        ctx.run([SCRIPT, "true"], "kernel-crash-dumps")
        return [f"{SCRIPT} true"]
    if "kdump-tools" not in dpkgstatus.installed(ctx.target):
        return []
    ctx.run([SCRIPT, "false"], "kernel-crash-dumps")
    return [f"{SCRIPT} false"]
