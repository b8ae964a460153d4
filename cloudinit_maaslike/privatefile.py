"""Atomic writes of files that hold credentials or user-data.

A reader (another boot stage, an operator) must see either the old file or
the whole new one, and never a moment where a secret sits in a file others can
read: the temporary file is created 0600 (or tighter) before any byte lands.
"""

from __future__ import annotations

import os
import tempfile
from typing import Union


def make_private_dir(path: str, mode: int = 0o700) -> None:
    """Create `path` (and parents) readable only by its owner when created."""
    os.makedirs(path, mode=mode, exist_ok=True)


def write_private(path: str, data: Union[bytes, str], mode: int = 0o600) -> None:
    """Write `data` to `path` atomically with `mode` (default 0600)."""
    make_private_dir(os.path.dirname(os.path.abspath(path)))
    replace_atomically(path, data, mode)


def replace_atomically(path: str, data: Union[bytes, str], mode: int) -> None:
    """Replace `path` (whose directory exists) with `data`; the file has `mode` before any byte lands."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=os.path.dirname(os.path.abspath(path)))
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
