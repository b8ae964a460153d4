"""Write the payload's own files (its Python package, helpers) for later stages.

MAAS's payload carries curtin's Python package, and image hooks such as
packer-maas's ``curtin-hooks`` import it from ``PYTHONPATH``; writing the
members out lets the install engine offer the same path without running the
pack script.  The configs are left out: they are read from the `Payload`.
"""

from __future__ import annotations

from .model import Payload
from .tree import write_tree

DEFAULT_FILE_MODE = 0o644


def write_members(payload: Payload, dest: str) -> None:
    """Create `dest` holding every non-config member, or raise leaving no trace.

    Modes keep the execute bits (``bin/curtin`` must run) but never setuid,
    setgid or write access for others.
    """
    files = [
        (name, data, payload.modes.get(name, DEFAULT_FILE_MODE) & 0o755)
        for name, data in payload.members.items()
    ]
    write_tree(dest, files, payload.symlinks)
