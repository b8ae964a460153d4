"""Install sources as curtin writes them, parsed into typed objects.

``sources:`` is a mapping (taken in sorted key order) or a list; each entry is
a string with curtin's prefixes (``tgz:``, ``dd-xz:``, ``fsimage:``, …, plus
``tzst:`` and ``dd-zst:``), ``squashfs://``, ``cp://``, a bare URL (a tarball,
or an fsimage when it ends in ``squash``/``squashfs``), or ``{type, uri,
sha256}``.  For tarballs and compressed dd images the actual compression is
read from the data itself, so a mislabelled image still extracts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, List, Mapping, Optional, Tuple

from ..config.checks import type_name
from ..config.problems import Problems

TARBALL_KINDS = ("tgz", "tbz", "txz", "tzst", "tar")
DD_KINDS = ("dd-tgz", "dd-tbz", "dd-txz", "dd-tar", "dd-bz2", "dd-gz", "dd-xz", "dd-raw", "dd-zst")
FSIMAGE_KINDS = ("fsimage", "fsimage-layered")
KINDS = TARBALL_KINDS + DD_KINDS + FSIMAGE_KINDS + ("cp",)
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")


@dataclass(frozen=True)
class Source:
    kind: str
    uri: str
    sha256: Optional[str] = None
    name: str = ""  # the key or list position, for messages

    @property
    def is_dd(self) -> bool:
        return self.kind.startswith("dd-")

    @property
    def is_local(self) -> bool:
        return self.uri.startswith("file://") or self.uri.startswith("/")

    @property
    def local_path(self) -> str:
        return self.uri[len("file://"):] if self.uri.startswith("file://") else self.uri


def _from_string(text: str) -> Source:
    if text.startswith("cp://"):
        return Source("cp", text[len("cp://"):] or "/")
    if text.startswith("squashfs://"):
        rest = text[len("squashfs://"):]
        return Source("fsimage", rest if "://" in rest else "file://" + ("/" + rest.lstrip("/")))
    prefix, sep, rest = text.partition(":")
    if sep and prefix in KINDS:  # "tgz:http://…", "dd-xz:file:///…"
        return Source(prefix, rest)
    if re.search(r"squash(fs)?$", text):
        return Source("fsimage", text)
    return Source("tgz", text)


def parse_source(value: Any, name: str, problems: Problems) -> Optional[Source]:
    path = f"sources.{name}"
    if isinstance(value, str):
        source = _from_string(value.strip())
    elif isinstance(value, Mapping):
        uri = value.get("uri")
        kind = value.get("type", "tgz")
        if not isinstance(uri, str) or not uri:
            problems.error(f"{path}.uri", "required, a URL or path")
            return None
        if kind not in KINDS:
            problems.error(f"{path}.type", f"unknown source type {kind!r} ({', '.join(KINDS)})")
            return None
        sha = value.get("sha256")
        if sha is not None and (not isinstance(sha, str) or not _SHA256.match(sha)):
            problems.error(f"{path}.sha256", "expected 64 hex digits")
            sha = None
        for key in value:
            if key not in ("uri", "type", "sha256"):
                problems.warn(f"{path}.{key}", "unknown key, ignored")
        source = Source(str(kind), uri, sha.lower() if sha else None)
    else:
        problems.error(path, f"expected a string or {{type, uri, sha256}}, got {type_name(value)}")
        return None
    uri = source.uri
    if source.kind != "cp" and not (uri.startswith(("http://", "https://", "file://", "/"))):
        problems.error(path, f"{uri!r}: expected an http(s):// or file:// URL or an absolute path")
        return None
    return Source(source.kind, source.uri, source.sha256, name)


def parse_sources(raw: Any, problems: Problems) -> List[Source]:
    if raw in (None, {}, []):
        return []
    items: List[Any]
    if isinstance(raw, Mapping):
        items = [(str(k), raw[k]) for k in sorted(raw, key=str)]
    elif isinstance(raw, list):
        items = [(str(i), v) for i, v in enumerate(raw)]
    else:
        problems.error("sources", f"expected a mapping or a list, got {type_name(raw)}")
        return []
    found = [s for s in (parse_source(v, n, problems) for n, v in items) if s is not None]
    dd = [s for s in found if s.is_dd]
    if len(dd) > 1:
        problems.error(f"sources.{dd[1].name}", "only one dd image can be written (the disk is one)")
    if dd and len(found) > 1:
        other = next(s for s in found if not s.is_dd)
        problems.error(f"sources.{other.name}", "a dd image fills the whole disk; it cannot be combined")
    return found


def validate_sources(raw: Any, path: str, problems: Problems) -> Tuple[Source, ...]:
    """The engine's section validator for ``sources``: the parsed sources, kept for extract."""
    return tuple(parse_sources(raw, problems))
