"""Pack configs into a payload in curtin's shell-archive format.

MAAS-style tools and our own decoder read it like a curtin pack; the
``MAASLIKE_VERSION`` header marks it as ours.  Run as a plain script it
extracts and installs with the copy of this project it carries, so a payload
works even on an image where cloudinit-maaslike is not installed.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
from typing import Dict, List, Optional, Sequence, Tuple

from .. import __version__
from ..config.merge import curtin_set
from .bundle import CURTIN_WRAPPER_NAME, PACKAGE, curtin_wrapper, package_files
from .extractor import HeaderValue, render_script
from .model import PayloadError
from .names import find_nested, member_name
from .tarball import Entry, build_tgz

CONFIG_NAME = "configs/config-%03d.cfg"
CONFIG_MODE = 0o600  # configs carry OAuth tokens
PREFIX = "curtin"
LABEL = "maaslike"


def pack(
    configs: Sequence[str],
    sources: Sequence[str] = (),
    extra_files: Sequence[Tuple[str, str]] = (),
    sets: Sequence[str] = (),
    *,
    include_package: bool = True,
    created: Optional[float] = None,
) -> bytes:
    """A pack script installing `sources` with `configs` (texts, kept verbatim).

    `extra_files` are (path on this machine, member name) pairs; a directory
    is added with everything under it.  `created` fixes the time stamps
    (default: ``SOURCE_DATE_EPOCH``, else now), so packing is reproducible.
    """
    for number, value in enumerate(sets, start=1):
        if "=" not in value:  # the value is not echoed: it may be a mistyped secret
            raise PayloadError(f"cannot pack --set number {number}: expected KEY=VALUE")
    for source in sources:
        if not source or source.startswith("-"):
            raise PayloadError(f"cannot pack source {source!r}: it would read as an option")
    stamp = int(_created(created))
    entries = _entries(configs, extra_files, include_package)
    archive = build_tgz(entries, stamp)
    command = ["curtin", "--install-deps", "install"]  # what curtin's pack_install writes
    command += ["--config=" + CONFIG_NAME % index for index in range(len(configs))]
    command += ["--set=" + curtin_set(value) for value in sets]  # as real curtin reads it
    command += list(sources)
    header: List[Tuple[str, HeaderValue]] = [
        ("MD5SUM", hashlib.md5(archive, usedforsecurity=False).hexdigest()),
        ("PREFIX", PREFIX),
        ("LABEL", LABEL),
        ("COMMAND", command),
        ("PYPATH", "_pwd_"),
        ("BINPATH", "_pwd_/bin"),
        ("CREATE_TIME", _rfc2822(stamp)),
        ("MAASLIKE_VERSION", __version__),
    ]
    return render_script(header, base64.encodebytes(archive).decode("ascii"))


def _entries(
    configs: Sequence[str], extra_files: Sequence[Tuple[str, str]], include_package: bool
) -> List[Entry]:
    entries: Dict[str, Entry] = {}

    def add(entry: Entry, origin: str) -> None:
        if entry[0] in entries:
            raise PayloadError(f"cannot pack {origin}: member {entry[0]} is already taken")
        entries[entry[0]] = entry

    for index, text in enumerate(configs):
        add((CONFIG_NAME % index, text.encode("utf-8"), CONFIG_MODE), f"config {index}")
    if include_package:
        add(curtin_wrapper(), CURTIN_WRAPPER_NAME)
        for entry in package_files():
            add(entry, PACKAGE)
    for path, name in extra_files:
        for entry in _read_extra(path, name):
            add(entry, path)
    nested = find_nested(entries, entries)
    if nested is not None:
        raise PayloadError(f"cannot pack {nested[0]}: {nested[1]} is a file")
    return list(entries.values())


def _read_extra(path: str, name: str) -> List[Entry]:
    """The files under `path`, named under `name` in the archive."""
    try:
        target = member_name(name, what="extra file")
    except PayloadError as exc:
        raise PayloadError(f"cannot pack {path}: {exc}") from None
    if not target:
        raise PayloadError(f"cannot pack {path}: {name!r} is not a file name")
    if not os.path.isdir(path):
        return [(target, _read(path), _mode_of(path))]
    found: List[Entry] = []
    for folder, dirnames, filenames in os.walk(path):
        dirnames.sort()
        for filename in sorted(filenames):
            full = os.path.join(folder, filename)
            relative = os.path.relpath(full, path).replace(os.sep, "/")
            found.append((f"{target}/{relative}", _read(full), _mode_of(full)))
    return found


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise PayloadError(f"cannot pack {path}: {exc.strerror}") from None


def _mode_of(path: str) -> int:
    return 0o755 if os.access(path, os.X_OK) else 0o644


def _created(created: Optional[float]) -> float:
    if created is not None:
        return created
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    return float(epoch) if epoch.isdigit() else time.time()


def _rfc2822(stamp: int) -> str:
    """``date -R`` style, independent of the locale."""
    import email.utils

    return email.utils.formatdate(stamp, localtime=False)[:-5] + "+0000"
