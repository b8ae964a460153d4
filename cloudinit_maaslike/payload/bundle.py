"""What a payload carries besides its configs: this project, runnable as ``curtin``.

An image without cloudinit-maaslike still runs the payload as a plain script
(that is what cloud-init does with a ``#!`` user-data); the extractor then
puts the extracted tree on ``PYTHONPATH`` and its ``bin/`` on ``PATH`` and
runs ``curtin install …``.  Shipping our package and a ``bin/curtin`` that
starts our curtin-compatible command line makes that work anywhere Python 3,
PyYAML, requests and oauthlib are present.
"""

from __future__ import annotations

import os
from typing import List, Tuple

PACKAGE = "cloudinit_maaslike"
CURTIN_WRAPPER_NAME = "bin/curtin"
CURTIN_WRAPPER = """#!/bin/sh
# curtin, as carried by a cloudinit-maaslike payload: our compatible command line
exec "${PYTHON:-python3}" -m cloudinit_maaslike.curtincmd "$@"
"""
_SHIPPED_SUFFIXES = (".py", "py.typed")

Entry = Tuple[str, bytes, int]  # member name, data, mode


def package_files() -> List[Entry]:
    """This package's sources as installed (``.py`` files, no caches), sorted."""
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    entries: List[Entry] = []
    for folder, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
        for filename in sorted(filenames):
            if not filename.endswith(_SHIPPED_SUFFIXES):
                continue
            path = os.path.join(folder, filename)
            relative = os.path.relpath(path, top).replace(os.sep, "/")
            with open(path, "rb") as handle:
                entries.append((f"{PACKAGE}/{relative}", handle.read(), 0o644))
    return entries


def curtin_wrapper() -> Entry:
    return (CURTIN_WRAPPER_NAME, CURTIN_WRAPPER.encode("ascii"), 0o755)
