"""The documents MAAS composes for a node: preseed data, debconf, vendor-data.

The preseed follows MAAS's ``compose_preseed.py``: a ``#cloud-config`` whose
keys are dumped sorted.  A node that MAAS would boot into its installer
(deploying, deployed) gets the curtin tree as ``metadata_url`` (no trailing
slash); every other status gets the ephemeral ("commissioning") preseed with
the ordinary tree.  A deploying node reboots when done, entering rescue
mode keeps running, everything else powers off.  No package archive and no
syslog receiver are offered here, so MAAS's ``apt:``, ``snap:`` and
``rsyslog:`` keys are left out (an ``rsyslog:`` pointing nowhere would only
make cloud-init restart syslog for nothing).  Credentials are the node's own.
"""

from __future__ import annotations

from typing import Any, Dict
from urllib.parse import urlencode, urlsplit

from .inventory import Node
from .oauthcheck import TokenSecrets
from .statuses import COMMISSIONING_LIKE

METADATA_PATH = "/MAAS/metadata/"
SYSLOG_PORT = 5247
COMMISSIONING = "commissioning"
CURTIN = "curtin"


def metadata_url(server_url: str, curtin: bool = False) -> str:
    base = server_url.rstrip("/") + METADATA_PATH
    return base + "curtin" if curtin else base


def status_url(server_url: str, node: Node) -> str:
    return f"{server_url.rstrip('/')}{METADATA_PATH}status/{node.system_id}"


def node_by_id_url(server_url: str, node: Node) -> str:
    """Where the anonymous ``op=get_preseed`` and ``op=netboot_off`` live."""
    return f"{server_url.rstrip('/')}{METADATA_PATH}latest/by-id/{node.system_id}/"


def server_host(server_url: str) -> str:
    return urlsplit(server_url).hostname or "localhost"


def preseed_type(status: str) -> str:
    """``curtin`` for a node MAAS boots into its installer, else ``commissioning``.

    MAAS: commissioning-like statuses boot the ephemeral environment, and so
    does every status whose boot purpose is "poweroff" (ready, allocated,
    failed-…); deploying and deployed boot the installer or the disk.
    """
    if status in COMMISSIONING_LIKE or status not in ("deploying", "deployed"):
        return COMMISSIONING
    return CURTIN


def reporting_config(server_url: str, node: Node, token: TokenSecrets) -> Dict[str, Any]:
    return {
        "maas": {
            "type": "webhook",
            "endpoint": status_url(server_url, node),
            "consumer_key": token.consumer_key,
            "token_key": token.token_key,
            "token_secret": token.token_secret,
        }
    }


def datasource_config(url: str, token: TokenSecrets) -> Dict[str, Any]:
    return {"MAAS": {
        "metadata_url": url,
        "consumer_key": token.consumer_key,
        "token_key": token.token_key,
        "token_secret": token.token_secret,
    }}


def compose_preseed(node: Node, token: TokenSecrets, server_url: str, status: str) -> Dict[str, Any]:
    """The cloud-config MAAS hands a booting node at ``op=get_preseed``."""
    kind = preseed_type(status)
    preseed: Dict[str, Any] = {
        "datasource": datasource_config(metadata_url(server_url, curtin=kind == CURTIN), token),
        "manage_etc_hosts": True,
        "reporting": reporting_config(server_url, node, token),
    }
    if status in COMMISSIONING_LIKE:
        preseed["packages"] = ["python3-yaml", "python3-oauthlib"]
        if status == "disk-erasing":
            preseed["packages"].append("nvme-cli")
    if status == "deploying":
        preseed["power_state"] = {
            "delay": "now",
            "mode": "reboot",
            "timeout": 1800,
            "condition": "test ! -e /tmp/block-reboot",
        }
    elif status != "entering-rescue-mode":
        preseed["power_state"] = {
            "delay": "now",
            "mode": "poweroff",
            "timeout": 604800 if status == "disk-erasing" else 3600,
            "condition": "test ! -e /tmp/block-poweroff",
        }
    return preseed


def compose_enlistment_preseed(server_url: str) -> Dict[str, Any]:
    """For machines MAAS does not know: the metadata URL without credentials."""
    return {
        "datasource": {"MAAS": {"metadata_url": metadata_url(server_url)}},
        "manage_etc_hosts": True,
        "packages": ["python3-yaml", "python3-oauthlib"],
        "power_state": {"delay": "now", "mode": "poweroff", "timeout": 1800,
                        "condition": "test ! -e /tmp/block-poweroff"},
    }


def compose_debconf_preseed(node: Node, token: TokenSecrets, server_url: str) -> str:
    """Debconf selections that configure an installed Debian/Ubuntu cloud-init.

    MAAS's ``compose_debconf_cloud_init_preseed``: the datasource, its URL and
    credentials, and a local cloud-config with reporting, for both the
    ``cloud-init`` and ``cloud-init-base`` package names.
    """
    import yaml

    credentials = urlencode({
        "oauth_consumer_key": token.consumer_key,
        "oauth_token_key": token.token_key,
        "oauth_token_secret": token.token_secret,
    })
    local = {"manage_etc_hosts": True, "manual_cache_clean": True,
             "reporting": reporting_config(server_url, node, token)}
    local_yaml = yaml.safe_dump(local).replace("\\", "\\\\").replace("\n", "\\n")
    items = [
        ("datasources", "multiselect", "MAAS"),
        ("maas-metadata-url", "string", metadata_url(server_url)),
        ("maas-metadata-credentials", "string", credentials),
        ("local-cloud-config", "string", local_yaml),
    ]
    return "\n".join(
        f"cloud-init   cloud-init/{name}  {kind} {value}\n"
        f"cloud-init-base   cloud-init-base/{name}  {kind} {value}"
        for name, kind, value in items
    )


def dump_yaml(data: Any) -> str:
    """YAML as MAAS writes it (``safe_dump``, block style), with libyaml when present."""
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return str(yaml.dump(data, Dumper=dumper, default_flow_style=False))


def render_cloud_config(data: Dict[str, Any]) -> bytes:
    return ("#cloud-config\n" + dump_yaml(data)).encode("utf-8")


def vendor_data(node: Node) -> bytes:
    """MAAS's vendor-data document: ``cloud-init: "#cloud-config\\n…"``."""
    body = node.vendor_data if node.vendor_data is not None else {}
    text = body if isinstance(body, str) else "#cloud-config\n" + dump_yaml(body)
    return dump_yaml({"cloud-init": text}).encode("utf-8")
