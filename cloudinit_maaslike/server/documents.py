"""Rendered per-node documents: the preseed and the packed curtin user-data.

Both go through the preseed templates (``curtin``/``commissioning`` wrap
``{{preseed_data}}``; ``curtin_userdata`` is the install config), so an
operator's template changes what nodes receive exactly as in MAAS.  Rendering
and packing cost milliseconds and hundreds of nodes boot at once, so results
are kept, keyed by node, status and server URL, and dropped when any file in
a template location changes (looked at no more than once a second).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from typing import Any, Dict, Hashable, Optional, Sequence, Tuple

from ..errors import MaaslikeError
from ..redact import redact_text
from .compose import (
    compose_debconf_preseed,
    compose_enlistment_preseed,
    compose_preseed,
    preseed_type,
    render_cloud_config,
)
from .context import base_context, deprecated_context, preseed_context
from .credstore import CredentialStore
from .curtin_userdata import CurtinUserData, compose_curtin_configs, pack_curtin_userdata
from .installsource import resolve_source
from .inventory import Node
from .templates import Machine, TemplateLoader, render

CURTIN_USERDATA = "curtin_userdata"
ENLIST = "enlist"
CACHE_SIZE = 4096
STAMP_TTL = 1.0  # how long a look at the template directories stays good
LOG = logging.getLogger(__name__)


class PackerUnavailable(MaaslikeError):
    """The payload packer (cloudinit_maaslike.payload) cannot be imported."""


class NodeDocuments:
    def __init__(self, loader: TemplateLoader, credentials: CredentialStore):
        self.loader = loader
        self.credentials = credentials
        self._cache: OrderedDict[Hashable, Tuple[Hashable, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._stamp: Optional[Tuple[Tuple[str, ...], float, Hashable]] = None

    def _templates_stamp(self) -> Hashable:
        """Changes whenever a template is added, removed or edited (seen within a second)."""
        now = time.monotonic()
        locations = tuple(self.loader.locations)
        with self._lock:
            seen = self._stamp
        if seen is not None and seen[0] == locations and now - seen[1] < STAMP_TTL:
            return seen[2]
        stamp = []
        for location in self.loader.locations:
            try:
                with os.scandir(location) as entries:
                    files = tuple(sorted(
                        (e.name, e.stat().st_mtime_ns, e.stat().st_size)
                        for e in entries if e.is_file()
                    ))
            except OSError:
                files = ()
            stamp.append((location, files))
        with self._lock:
            self._stamp = (locations, now, tuple(stamp))
        return tuple(stamp)

    def _cached(self, key: Hashable, make: Any) -> Any:
        stamp = self._templates_stamp()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] == stamp:
                self._cache.move_to_end(key)
                return hit[1]
        value = make()
        with self._lock:
            self._cache[key] = (stamp, value)
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return value

    def is_ready(self, kind: str, node: Node, status: str, server_url: str) -> bool:
        """Whether `kind` ("preseed" or "curtin") is built and current for this node."""
        stamp = self._templates_stamp()
        with self._lock:
            hit = self._cache.get((kind, node.system_id, status, server_url))
        return hit is not None and hit[0] == stamp

    def _context(self, node: Node, status: str, server_url: str) -> Dict[str, Any]:
        token = self.credentials.for_node(node.system_id)
        data = render_cloud_config(compose_preseed(node, token, server_url, status)).decode("utf-8")
        return preseed_context(node, status, server_url, data, node.osystem, node.release)

    @staticmethod
    def _machine(node: Node) -> Machine:
        return Machine(node.arch, node.subarch, node.hostname)

    def preseed(self, node: Node, status: str, server_url: str) -> bytes:
        """What ``op=get_preseed`` answers: the ``curtin`` or ``commissioning`` template."""

        def make() -> bytes:
            template = self.loader.load(preseed_type(status), node.osystem, node.release,
                                        self._machine(node))
            return render(template, self._context(node, status, server_url)).encode("utf-8")

        return bytes(self._cached(("preseed", node.system_id, status, server_url), make))

    def enlist_preseed(self, server_url: str) -> bytes:
        """What ``op=get_enlist_preseed`` answers: the ``enlist`` template, no node."""

        def make() -> bytes:
            template = self.loader.load(ENLIST, "", "", None)
            context = base_context(server_url, "", "")
            context["preseed_data"] = render_cloud_config(
                compose_enlistment_preseed(server_url)).decode("utf-8")
            return render(template, context).encode("utf-8")

        return bytes(self._cached(("enlist", server_url), make))

    def curtin_configs(self, node: Node, status: str, server_url: str) -> CurtinUserData:
        """The config parts and source, before packing (what tests and tools inspect)."""
        template = self.loader.load(CURTIN_USERDATA, node.osystem, node.release, self._machine(node))
        token = self.credentials.for_node(node.system_id)
        context = self._context(node, status, server_url)
        context["curtin_preseed"] = compose_debconf_preseed(node, token, server_url)
        context.update(deprecated_context())
        rendered = render(template, context)
        return compose_curtin_configs(node, token, server_url, rendered, str(template.name),
                                      resolve_source(node.source, server_url))

    def curtin_user_data(self, node: Node, status: str, server_url: str) -> bytes:
        """The packed payload served at ``curtin/<v>/user-data``."""

        def make() -> bytes:
            userdata = self.curtin_configs(node, status, server_url)
            try:
                return pack_curtin_userdata(userdata)
            except ImportError:
                raise PackerUnavailable(
                    "cannot pack curtin user-data: cloudinit_maaslike.payload is not installed"
                ) from None

        return bytes(self._cached(("curtin", node.system_id, status, server_url), make))

    def prepare(self, nodes: Sequence[Tuple[Node, str]], server_url: str) -> int:
        """Build deploying nodes' preseeds and payloads ahead of their requests.

        MAAS makes a node's curtin user-data when its deployment starts, not
        when the node asks; packing costs tens of milliseconds, which a
        server answering hundreds of booting nodes cannot spend inline.
        Returns how many were built; a node whose payload fails is logged
        and left to fail (with its message) when it asks.
        """
        started = time.monotonic()
        built = 0
        for node, status in nodes:
            if status != "deploying":
                continue
            try:
                self.preseed(node, status, server_url)
                self.curtin_user_data(node, status, server_url)
                built += 1
            except MaaslikeError as exc:
                LOG.warning("cannot prepare curtin user-data for %s: %s", node.system_id,
                            redact_text(str(exc), self.credentials.all_secrets()))
        LOG.info("prepared curtin user-data for %d deploying node(s) in %.1f s",
                 built, time.monotonic() - started)
        return built
