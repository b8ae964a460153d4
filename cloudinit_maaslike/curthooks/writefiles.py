"""`write_files`: files with content, encodings, modes, owners, appends.

Curtin supports only plain content; we accept cloud-init's encodings too
(``b64``/``base64``, ``gz``/``gzip``, ``gz+b64``/``gzip+base64``), so the
same snippet works in both places.  The section is parsed once, at
validation, into `WriteFile` specs holding the decoded bytes; writing them is
idempotent: a file already holding the content (or, for ``append``, already
ending with it) is left as it is.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import os
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Sequence, Tuple

from ..config.problems import Problems
from .context import HookContext

ENCODINGS = {
    "": (), "text/plain": (), "text": (),
    "b64": ("b64",), "base64": ("b64",),
    "gz": ("gz",), "gzip": ("gz",),
    "gz+b64": ("b64", "gz"), "gzip+base64": ("b64", "gz"), "gz+base64": ("b64", "gz"),
}


@dataclass(frozen=True)
class WriteFile:
    """One file to write, as parsed: its content already decoded."""

    name: str  # the entry's key (or list index), named in the step's messages
    path: str  # as given: a path in the target
    content: bytes
    permissions: int = 0o644
    owner: Optional[str] = None  # chown'ed in the target unless root
    append: bool = False

    @property
    def target_path(self) -> str:
        """The path as the installed system sees it (what the step reports)."""
        return "/" + self.path.lstrip("/")


def entries(raw: Any) -> List[Tuple[str, Mapping[str, Any]]]:
    if isinstance(raw, Mapping):
        return [(str(k), v) for k, v in raw.items() if v]
    if isinstance(raw, list):
        return [(str(i), v) for i, v in enumerate(raw)]
    return []


def decode(entry: Mapping[str, Any], where: str) -> bytes:
    content = entry.get("content", "")
    data = content if isinstance(content, bytes) else str(content).encode("utf-8")
    for step in ENCODINGS[str(entry.get("encoding", "")).lower()]:
        try:
            data = base64.b64decode(data, validate=False) if step == "b64" else gzip.decompress(data)
        except (binascii.Error, OSError, EOFError) as exc:
            raise ValueError(f"{where}.content: not valid {entry.get('encoding')} ({exc})") from None
    return data


def mode_of(value: Any) -> int:
    if isinstance(value, int):
        return value
    return int(str(value), 8)


def parse(raw: Any, path: str, problems: Problems) -> Tuple[WriteFile, ...]:
    """The files of a `write_files`-shaped section (a mapping or a list); problems name their key path.

    An entry with a problem is left out (the problems stop the install before
    anything is written).
    """
    if raw is None:
        return ()
    if not isinstance(raw, (Mapping, list)):
        problems.error(path, "expected a mapping (or list) of files")
        return ()
    files = []
    for name, entry in entries(raw):
        where = f"{path}.{name}" if isinstance(raw, Mapping) else f"{path}[{name}]"
        parsed = _parse_entry(name, entry, where, problems)
        if parsed is not None:
            files.append(parsed)
    return tuple(files)


def _parse_entry(name: str, entry: Any, where: str, problems: Problems) -> Optional[WriteFile]:
    if not isinstance(entry, Mapping):
        problems.error(where, "expected a mapping with path and content")
        return None
    before = len(problems.errors)
    target_path = entry.get("path")
    if not isinstance(target_path, str) or not target_path.strip("/"):
        problems.error(f"{where}.path", "required, a path in the target")
    elif ".." in target_path.split("/"):
        problems.error(f"{where}.path", f"{target_path!r} must stay inside the target")
    data = b""
    if str(entry.get("encoding", "")).lower() not in ENCODINGS:
        problems.error(f"{where}.encoding", f"unknown encoding {entry.get('encoding')!r} "
                                            "(b64, gz, gz+b64)")
    else:
        try:
            data = decode(entry, where)
        except ValueError as exc:
            problems.error(f"{where}.content", str(exc).split(": ", 1)[1])
    perms = entry.get("permissions", entry.get("perms"))
    mode = 0o644
    if perms is not None:
        try:
            mode = mode_of(perms)
            if not 0 <= mode <= 0o7777:
                raise ValueError
        except ValueError:
            problems.error(f"{where}.permissions", f"not a file mode: {perms!r}")
    owner = entry.get("owner")
    if owner is not None and not isinstance(owner, str):
        problems.error(f"{where}.owner", "expected 'user:group'")
    if len(problems.errors) > before:
        return None
    return WriteFile(name=name, path=str(target_path), content=data, permissions=mode,
                     owner=owner or None, append=bool(entry.get("append")))


def write_files(ctx: HookContext, files: Sequence[WriteFile]) -> List[str]:
    """Write the parsed `files` into the target; returns their paths there."""
    written = []
    for spec in files:
        path = ctx.path(spec.path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        try:
            with open(path, "rb") as handle:
                current = handle.read()
        except FileNotFoundError:
            current = None
        if spec.append:
            if current is None or not current.endswith(spec.content):
                with open(path, "ab") as handle:
                    handle.write(spec.content)
        elif current != spec.content:
            with open(path, "wb") as handle:
                handle.write(spec.content)
        os.chmod(path, spec.permissions)
        if spec.owner and spec.owner not in ("root:root", "root"):
            ctx.run(["chown", spec.owner, spec.target_path], f"write_files.{spec.name}")
        written.append(spec.target_path)
    return written
