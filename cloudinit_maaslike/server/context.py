"""What a preseed template sees: MAAS's context variables for one node.

MAAS templates are written against MAAS's context (``get_preseed_context``,
``get_node_preseed_context``, ``get_curtin_context`` and the deprecated
archive variables), and call methods on the Django node such as
``node.get_distro_series()``.  The same names are provided here, with the
values this stand-in can know; features it does not have (third-party
drivers, proxies, licence keys) have MAAS's "not set" values, so templates
that test for them take their plain branch.
"""

from __future__ import annotations

import functools
from typing import Any, Dict, Optional, Tuple
from urllib.parse import urlencode, urlsplit

from .. import aptsources
from .compose import SYSLOG_PORT, node_by_id_url, server_host
from .inventory import Node

MACHINES_API_PATH = "/MAAS/api/2.0/machines/"


class TemplateNode:
    """The node as templates know it: MAAS's attribute and method names."""

    def __init__(self, node: Node, status: str):
        self._node = node
        self.system_id = node.system_id
        self.hostname = node.hostname
        self.fqdn = node.fqdn
        self.domain = node.domain
        self.architecture = node.architecture
        self.osystem = node.osystem
        self.distro_series = node.release
        self.status = status
        self.status_name = status

    def split_arch(self) -> Tuple[str, str]:
        return self._node.arch, self._node.subarch

    def get_osystem(self, default: Optional[str] = None) -> str:
        return self._node.osystem or (default or "")

    def get_distro_series(self, default: Optional[str] = None) -> str:
        return self._node.release or (default or "")

    def __repr__(self) -> str:
        return f"<node {self.system_id} {self.hostname}>"


def base_context(server_url: str, osystem: str, release: str) -> Dict[str, Any]:
    """MAAS's ``get_preseed_context``: what every template sees, node or not."""
    host = server_host(server_url)
    return {
        "osystem": osystem,
        "release": release,
        "server_host": host,
        # MAAS: the absolute URL of its machines API handler.
        "server_url": server_url.rstrip("/") + MACHINES_API_PATH,
        "syslog_host_port": f"{host}:{SYSLOG_PORT}",
        "http_proxy": None,
    }


def preseed_context(node: Node, status: str, server_url: str, preseed_data: str,
                    osystem: str, release: str) -> Dict[str, Any]:
    """``get_preseed_context`` plus ``get_node_preseed_context``."""
    context = base_context(server_url, osystem, release)
    context.update({
        "third_party_drivers": False,
        "driver": {},
        "driver_package": "",
        "node": TemplateNode(node, status),
        "preseed_data": preseed_data,
        "node_disable_pxe_url": node_by_id_url(server_url, node),
        "node_disable_pxe_data": urlencode({"op": "netboot_off"}),
        "license_key": None,
    })
    return context


@functools.cache
def _host_archive() -> Tuple[str, str]:
    primary = aptsources.primary_mirror(aptsources.read_sources("/")) or ""
    parsed = urlsplit(primary)
    return parsed.netloc, parsed.path.strip("/")


def deprecated_context() -> Dict[str, Any]:
    """Archive variables MAAS still supplies to old templates.

    MAAS fills them from its package-archive settings; the stand-in has none,
    so they name the archive this host's own apt uses (empty if it has none).
    """
    hostname, directory = _host_archive()
    return {
        "main_archive_hostname": hostname,
        "main_archive_directory": directory,
        "ports_archive_hostname": hostname,
        "ports_archive_directory": directory,
        "enable_http_proxy": False,
    }
