"""`cloudconfig`: cloud-init config files for the installed system.

Each entry becomes ``etc/cloud/cloud.cfg.d/50-cloudconfig-<name>.cfg`` (curtin's
name), which is how MAAS points the installed system's cloud-init at the
metadata server.  Files that hold credentials are written 0600.
"""

from __future__ import annotations

import re
from typing import Any, List, Mapping

from ..config.problems import Problems
from .context import HookContext

_CREDENTIAL = re.compile(r"token_secret|consumer_secret|oauth_token_secret|password", re.IGNORECASE)
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def validate(raw: Any, path: str, problems: Problems) -> None:
    if raw is None:
        return
    if not isinstance(raw, Mapping):
        problems.error(path, "expected a mapping of name: {content: …}")
        return
    for name, entry in raw.items():
        where = f"{path}.{name}"
        if not _NAME.match(str(name)):
            problems.error(where, "names may hold letters, digits, '.', '_' and '-' only")
        if not isinstance(entry, Mapping) or not isinstance(entry.get("content", ""), str):
            problems.error(where, "expected {content: <text>}")


def write_cloudconfig(ctx: HookContext, raw: Any) -> List[str]:
    written = []
    for name, entry in (raw or {}).items():
        content = str(entry.get("content", ""))
        relative = f"etc/cloud/cloud.cfg.d/50-cloudconfig-{name}.cfg"
        mode = 0o600 if _CREDENTIAL.search(content) else 0o644
        ctx.write(relative, content, mode=mode)
        written.append("/" + relative)
    return written
