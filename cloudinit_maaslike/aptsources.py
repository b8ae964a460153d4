"""Where an apt configuration fetches from: one-line and deb822 sources, read only.

The installed system's default mirror is the image's own (curtin's built-in
default is Ubuntu's archive, which no Debian image uses), and the test
harness takes the host's: no mirror host is ever written into this project.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple


@dataclass(frozen=True)
class Source:
    types: Tuple[str, ...]
    uri: str
    suites: Tuple[str, ...]
    components: Tuple[str, ...]


def parse_one_line(text: str) -> List[Source]:
    """``deb [options] URI SUITE COMPONENT…`` lines; comments and blanks skipped."""
    found = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        kind = words.pop(0)
        if kind not in ("deb", "deb-src"):
            continue
        if words and words[0].startswith("["):
            while words and not words.pop(0).endswith("]"):
                pass
        if len(words) >= 2:
            found.append(Source((kind,), words[0], (words[1],), tuple(words[2:])))
    return found


def parse_deb822(text: str) -> List[Source]:
    """Stanzas of ``Types:``/``URIs:``/``Suites:``/``Components:``; ``Enabled: no`` skipped."""
    found = []
    for stanza in _stanzas(text):
        if stanza.get("enabled", "yes").lower() == "no":
            continue
        types = tuple(stanza.get("types", "").split())
        suites = tuple(stanza.get("suites", "").split())
        components = tuple(stanza.get("components", "").split())
        for uri in stanza.get("uris", "").split():
            found.append(Source(types, uri, suites, components))
    return found


def _stanzas(text: str) -> List[dict[str, str]]:
    stanzas: List[dict[str, str]] = []
    current: dict[str, str] = {}
    key = ""
    for raw in text.splitlines() + [""]:
        if raw.startswith("#"):
            continue
        if not raw.strip():
            if current:
                stanzas.append(current)
            current, key = {}, ""
        elif raw[0] in " \t" and key:
            current[key] += " " + raw.strip()
        elif ":" in raw:
            name, _, value = raw.partition(":")
            key = name.strip().lower()
            current[key] = value.strip()
    return stanzas


def read_sources(root: str = "/", resolve: Optional[Callable[[str, str], str]] = None) -> List[Source]:
    """Every source an apt under `root` would use, in apt's order.

    `resolve(root, relative)` maps a path inside `root` to the host (the
    target's own link resolution); by default a plain join.
    """
    where = resolve or (lambda top, relative: os.path.join(top, relative))
    names = [where(root, "etc/apt/sources.list")]
    directory = where(root, "etc/apt/sources.list.d")
    names += sorted(glob.glob(os.path.join(directory, "*.list")) + glob.glob(os.path.join(directory, "*.sources")))
    found: List[Source] = []
    for name in names:
        try:
            with open(name, encoding="utf-8", errors="replace") as handle:
                text = handle.read(1 << 20)
        except OSError:
            continue
        found += parse_deb822(text) if name.endswith(".sources") else parse_one_line(text)
    return found


def primary_mirror(sources: List[Source]) -> Optional[str]:
    """The first binary source that is not a security archive."""
    for source in sources:
        if "deb" in source.types and any(not s.endswith("-security") for s in source.suites):
            return source.uri
    return None


def security_mirror(sources: List[Source]) -> Optional[str]:
    for source in sources:
        if "deb" in source.types and any(s.endswith("-security") for s in source.suites):
            return source.uri
    return None
