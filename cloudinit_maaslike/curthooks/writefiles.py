"""`write_files`: files with content, encodings, modes, owners, appends.

Curtin supports only plain content; we accept cloud-init's encodings too
(``b64``/``base64``, ``gz``/``gzip``, ``gz+b64``/``gzip+base64``), so the
same snippet works in both places.  Writing is idempotent: a file already
holding the content (or, for ``append``, already ending with it) is left as
it is.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import os
from typing import Any, List, Mapping, Tuple

from ..config.problems import Problems
from .context import HookContext

ENCODINGS = {
    "": (), "text/plain": (), "text": (),
    "b64": ("b64",), "base64": ("b64",),
    "gz": ("gz",), "gzip": ("gz",),
    "gz+b64": ("b64", "gz"), "gzip+base64": ("b64", "gz"), "gz+base64": ("b64", "gz"),
}


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


def validate(raw: Any, path: str, problems: Problems) -> None:
    if raw is None:
        return
    if not isinstance(raw, (Mapping, list)):
        problems.error(path, "expected a mapping (or list) of files")
        return
    for name, entry in entries(raw):
        where = f"{path}.{name}" if isinstance(raw, Mapping) else f"{path}[{name}]"
        if not isinstance(entry, Mapping):
            problems.error(where, "expected a mapping with path and content")
            continue
        target_path = entry.get("path")
        if not isinstance(target_path, str) or not target_path.strip("/"):
            problems.error(f"{where}.path", "required, a path in the target")
        elif ".." in target_path.split("/"):
            problems.error(f"{where}.path", f"{target_path!r} must stay inside the target")
        if str(entry.get("encoding", "")).lower() not in ENCODINGS:
            problems.error(f"{where}.encoding", f"unknown encoding {entry.get('encoding')!r} "
                                                "(b64, gz, gz+b64)")
        else:
            try:
                decode(entry, where)
            except ValueError as exc:
                problems.error(f"{where}.content", str(exc).split(": ", 1)[1])
        perms = entry.get("permissions", entry.get("perms"))
        if perms is not None:
            try:
                if not 0 <= mode_of(perms) <= 0o7777:
                    raise ValueError
            except ValueError:
                problems.error(f"{where}.permissions", f"not a file mode: {perms!r}")
        owner = entry.get("owner")
        if owner is not None and not isinstance(owner, str):
            problems.error(f"{where}.owner", "expected 'user:group'")


def write_files(ctx: HookContext, raw: Any) -> List[str]:
    written = []
    for name, entry in entries(raw):
        data = decode(entry, f"write_files.{name}")
        path = ctx.path(str(entry["path"]))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        mode = mode_of(entry.get("permissions", entry.get("perms", 0o644)))
        try:
            with open(path, "rb") as handle:
                current = handle.read()
        except FileNotFoundError:
            current = None
        if entry.get("append"):
            if current is None or not current.endswith(data):
                with open(path, "ab") as handle:
                    handle.write(data)
        elif current != data:
            with open(path, "wb") as handle:
                handle.write(data)
        os.chmod(path, mode)
        owner = entry.get("owner")
        if owner and owner not in ("root:root", "root"):
            ctx.run(["chown", owner, "/" + str(entry["path"]).lstrip("/")], f"write_files.{name}")
        written.append("/" + str(entry["path"]).lstrip("/"))
    return written
