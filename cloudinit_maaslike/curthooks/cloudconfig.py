"""`cloudconfig`: cloud-init config files for the installed system.

Each entry becomes ``etc/cloud/cloud.cfg.d/95-cloudconfig-<name>.cfg``, curtin's
name: cloud-init reads that directory in name order, so 95 is what lets MAAS's
settings win over the image's own ``90_*.cfg`` (Debian's ``90_dpkg.cfg`` sets
``datasource_list``).  An entry is a `write_files` entry (``content``,
``encoding``, ``permissions``, ``owner``), parsed once at validation; its
``path`` is ignored, as curtin ignores it.  Extended: without
``permissions``, a file that holds credentials is written 0600, not 0644.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Tuple

from ..config.problems import Problems
from . import writefiles
from .context import HookContext

_CREDENTIAL = re.compile(r"token_secret|consumer_secret|oauth_token_secret|password", re.IGNORECASE)
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
DIRECTORY = "etc/cloud/cloud.cfg.d"


def file_name(name: str) -> str:
    return f"{DIRECTORY}/95-cloudconfig-{name}.cfg"


def as_write_files(raw: Any) -> Dict[str, Mapping[str, Any]]:
    """The `write_files` entries the `cloudconfig` section stands for."""
    found: Dict[str, Mapping[str, Any]] = {}
    for name, entry in (raw or {}).items():
        content = entry.get("content", "")
        default_mode = "0600" if _CREDENTIAL.search(str(content)) else "0644"
        found[str(name)] = dict(entry, path=file_name(str(name)),
                                            permissions=entry.get("permissions", entry.get("perms", default_mode)))
    return found


def parse(raw: Any, path: str, problems: Problems) -> Tuple[writefiles.WriteFile, ...]:
    """The files the section stands for, at their 95-cloudconfig names; problems name their key path."""
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        problems.error(path, "expected a mapping of name: {content: …}")
        return ()
    well_formed = True
    for name, entry in raw.items():
        where = f"{path}.{name}"
        if not _NAME.match(str(name)):
            problems.error(where, "names may hold letters, digits, '.', '_' and '-' only")
        if not isinstance(entry, Mapping) or not isinstance(entry.get("content", ""), (str, bytes)):
            problems.error(where, "expected {content: <text>}")
            well_formed = False
        elif "path" in entry:
            problems.warn(f"{where}.path", f"ignored, as curtin ignores it: the file is /{file_name(str(name))}")
    if not well_formed:
        return ()
    return writefiles.parse(as_write_files(raw), path, problems)


def write_cloudconfig(ctx: HookContext) -> List[str]:
    return writefiles.write_files(ctx, ctx.settings.cloudconfig)
