"""Preseed templates found and loaded the way MAAS finds and loads them.

Operators keep MAAS preseed templates (``curtin_userdata_ubuntu_amd64``, a
file per machine, ``{{inherit}}`` chains) and expect them to work unchanged,
so this follows ``maasserver/preseed.py``: the same candidate names in the
same order, locations searched before names (any candidate in ``--templates``
beats a more specific one among the shipped defaults), ``generic`` tried
last for the top-level template only, and the same template engine, Tempita,
with MAAS's ``escape.json`` / ``escape.shell`` filters.

Parsed templates are cached by path, size and modification time, so an
edited template takes effect on the next request without a restart.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import threading
from collections import namedtuple
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import tempita

from ..errors import MaaslikeError

GENERIC = "generic"
UBUNTU = "ubuntu"
SHIPPED_SUBDIR = os.path.join("share", "cloudinit-maaslike", "preseeds")


def shipped_templates_dir() -> str:
    """The defaults from ``config/preseeds``: in the source tree, or installed.

    A checkout (or editable install) has them next to the package; a wheel
    installs them under ``<prefix>/share/cloudinit-maaslike/preseeds``.
    """
    source_tree = os.path.join(
        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
        "config", "preseeds",
    )
    for candidate in (source_tree, os.path.join(sys.prefix, SHIPPED_SUBDIR),
                      os.path.join("/usr", SHIPPED_SUBDIR)):
        if os.path.isdir(candidate):
            return candidate
    return source_tree


DEFAULT_TEMPLATES_DIR = shipped_templates_dir()

Escape = namedtuple("Escape", ["json", "shell"])
ESCAPE = Escape(json=json.dumps, shell=shlex.quote)


class TemplateNotFound(MaaslikeError):
    def __init__(self, name: str, locations: Sequence[str]):
        self.name = name
        super().__init__(f"no preseed template for {name!r} in {', '.join(locations) or 'no location'}")


class TemplateFailed(MaaslikeError):
    """A template exists but does not parse or render."""


class PreseedTemplate(tempita.Template):  # type: ignore[misc]
    """A Tempita template that knows MAAS's ``escape`` filters."""

    default_namespace = dict(tempita.Template.default_namespace, escape=ESCAPE)


@dataclass(frozen=True)
class Machine:
    """What of a node names templates: architecture and hostname."""

    arch: str
    subarch: str
    hostname: str


def preseed_filenames(prefix: str, osystem: str, release: str,
                      machine: Optional[Machine] = None, default: bool = False) -> Iterator[str]:
    """Candidate template names, most specific first (MAAS's lookup order).

    ``{prefix}_{osystem}_{arch}_{subarch}_{release}_{hostname}`` down to
    ``{prefix}``; for Ubuntu each name is followed by the same without the
    osystem (pre-multi-OS names, MAAS bug 1439366); ``generic`` last if
    `default`.  Empty parts are joined as they are, like MAAS does.
    """
    parts: List[str] = [prefix] if prefix else []
    os_index = len(parts)
    parts.append(osystem)
    if machine is not None:
        parts += [machine.arch, machine.subarch]
    parts.append(release)
    if machine is not None:
        parts.append(machine.hostname)
    shortest_without_os = os_index + 2  # a prefix (if any), the osystem, one more
    while parts:
        yield "_".join(parts)
        if osystem == UBUNTU and len(parts) >= shortest_without_os:
            yield "_".join(parts[:os_index] + parts[os_index + 1:])
        parts.pop()
    if default:
        yield GENERIC


class TemplateLoader:
    """Looks templates up in `locations`, in order (``--templates`` first)."""

    def __init__(self, locations: Sequence[str]):
        self.locations = [os.path.abspath(p) for p in locations]
        self._parsed: Dict[str, Tuple[Tuple[int, int], PreseedTemplate]] = {}
        self._lock = threading.Lock()

    def find(self, filenames: Sequence[str]) -> Optional[str]:
        """Path of the first candidate, trying every name in a location before the next."""
        for location in self.locations:
            for filename in filenames:
                path = os.path.join(location, filename)
                if os.path.isfile(path):
                    return path
        return None

    def _parse(self, path: str) -> PreseedTemplate:
        try:
            info = os.stat(path)
            stamp = (info.st_mtime_ns, info.st_size)
            with self._lock:
                cached = self._parsed.get(path)
            if cached is not None and cached[0] == stamp:
                return cached[1]
            with open(path, encoding="utf-8") as handle:
                content = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise TemplateFailed(f"cannot read preseed template {path}: {exc}") from None
        try:
            template = PreseedTemplate(content, name=path)
        except (tempita.TemplateError, SyntaxError) as exc:
            raise TemplateFailed(f"preseed template {path} does not parse: {exc}") from None
        with self._lock:
            self._parsed[path] = (stamp, template)
        return template

    def load(self, prefix: str, osystem: str, release: str,
             machine: Optional[Machine]) -> PreseedTemplate:
        """The top-level template for `prefix`, wired so ``{{inherit "x"}}`` finds x.

        An inherited name gets the same node-specific candidates but never
        ``generic`` (MAAS's ``get_template(..., default=False)``).
        """

        def get_template(name: str, from_template: Any = None, default: bool = False) -> PreseedTemplate:
            filenames = list(preseed_filenames(name, osystem, release, machine, default))
            path = self.find(filenames)
            if path is None:
                raise TemplateNotFound(name, self.locations)
            template = _with_loader(self._parse(path), get_template)
            return template

        return get_template(prefix, None, default=True)


def _with_loader(parsed: PreseedTemplate,
                 get_template: Callable[..., PreseedTemplate]) -> PreseedTemplate:
    """A copy of a cached parse that resolves ``inherit`` for this node."""
    clone: PreseedTemplate = PreseedTemplate.__new__(PreseedTemplate)
    clone.__dict__.update(parsed.__dict__)
    clone.get_template = get_template
    return clone


def render(template: PreseedTemplate, context: Dict[str, Any]) -> str:
    """Render with `context`; any failure is one line naming the template."""
    try:
        return str(template.substitute(dict(context)))
    except MaaslikeError:
        raise
    except Exception as exc:  # noqa: BLE001 - template code can raise anything
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TemplateFailed(f"preseed template {template.name} failed: {reason}") from None
