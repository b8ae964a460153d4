"""Where an apt configuration fetches from: one-line and deb822 sources.

Reading is for the defaults; `Entry` is one line of a one-line sources.list,
which `apt.preserve_sources_list: false` rewrites (disabled suites commented
out, disabled components dropped), as curtin does with python-apt's entries.

The installed system's default mirror is the image's own (curtin's built-in
default is Ubuntu's archive, which no Debian image uses), and the test
harness takes the host's: no mirror host is ever written into this project.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, replace
from typing import Callable, Iterable, List, Mapping, Optional, Tuple, Union


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


KINDS = ("deb", "deb-src", "rpm", "rpm-src")
KNOWN_SUITES = {"updates": "$RELEASE-updates", "backports": "$RELEASE-backports", "security": "$RELEASE-security",
                "proposed": "$RELEASE-proposed", "release": "$RELEASE"}


@dataclass(frozen=True)
class Entry:
    """A valid one-line source, commented out (`disabled`) or not."""

    disabled: bool
    kind: str
    options: str  # the text between the brackets, without them
    uri: str
    suite: str
    components: Tuple[str, ...]
    comment: str  # after the first '#' following the source, without it

    def __str__(self) -> str:
        words = ["#"] if self.disabled else []
        words.append(self.kind)
        if self.options:
            words.append(f"[{self.options}]")
        words += [self.uri, self.suite, *self.components]
        tail = f" #{self.comment}" if self.comment else ""
        return " ".join(w for w in words if w) + tail


Line = Union[Entry, str]  # a string is kept as it is: blanks, comments, anything not a source


def parse_entry(raw: str) -> Line:
    """One line as an `Entry`, or the stripped line itself when it is not a source."""
    line = raw.strip()
    disabled = line.startswith("#")
    body = line[1:].strip() if disabled else line
    if not body.split() or body.split()[0] not in KINDS:
        return line
    body, _, comment = body.partition("#")
    kind, _, rest = body.strip().partition(" ")
    rest = rest.strip()
    options = ""
    if rest.startswith("["):
        options, bracket, rest = rest[1:].partition("]")
        if not bracket:
            return line
    words = rest.split()
    if not words:
        return line
    suite = words[1] if len(words) > 1 else ""
    components = () if suite.endswith("/") else tuple(words[2:])
    return Entry(disabled, kind, options.strip(), words[0], suite, components, comment)


def render(template: str, variables: Mapping[str, str]) -> str:
    """``$NAME`` and ``${NAME}`` replaced by `variables`; unknown names are kept."""
    def sub(match: re.Match[str]) -> str:
        return variables.get(match.group(1) or match.group(2), match.group(0))

    return re.sub(r"\$(?:\{(\w+)\}|(\w+))", sub, template)


def render_entries(text: str, variables: Mapping[str, str]) -> List[Line]:
    """Each line parsed; only sources' URIs and suites are rendered (comments are not), as curtin does."""
    lines: List[Line] = []
    for raw in text.splitlines():
        found = parse_entry(raw)
        if isinstance(found, Entry):
            release = {"RELEASE": variables.get("RELEASE", "$RELEASE")}
            found = replace(found, uri=render(found.uri, variables), suite=render(found.suite, release))
        lines.append(found)
    return lines


def disable_suites(lines: List[Line], suites: Iterable[str], release: str) -> List[Line]:
    """Sources of the named suites commented out; `updates`, `security`… stand for `<release>-updates`…"""
    names = {render(KNOWN_SUITES.get(s, s), {"RELEASE": release}) for s in suites}
    return [replace(e, disabled=True) if isinstance(e, Entry) and not e.disabled and e.suite in names else e
            for e in lines]


def disable_components(lines: List[Line], components: Iterable[str]) -> List[Line]:
    """The named components dropped: the original line is kept commented out, the rest follows it.

    ``main`` is never disabled.
    """
    names = {c for c in components if c != "main"}
    found: List[Line] = []
    for entry in lines:
        if isinstance(entry, Entry) and not entry.disabled and names & set(entry.components):
            found.append(replace(entry, disabled=True))
            kept = tuple(c for c in entry.components if c not in names)
            if kept:
                found.append(replace(entry, components=kept))
        else:
            found.append(entry)
    return found


def format_lines(lines: List[Line]) -> str:
    return "".join(f"{line}\n" for line in lines)
