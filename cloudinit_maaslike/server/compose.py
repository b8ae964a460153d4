"""The documents MAAS composes for a node: preseed, vendor-data, user-data.

The preseed follows MAAS's ``compose_preseed``: a ``#cloud-config`` whose
keys are dumped sorted; a deploying node gets the curtin tree as
``metadata_url`` (no trailing slash) and a reboot ``power_state``; other nodes
get the ordinary tree.  Credentials are the node's own.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from .inventory import COMMISSIONING_LIKE, Node
from .oauthcheck import TokenSecrets

METADATA_PATH = "/MAAS/metadata/"


def metadata_url(server_url: str, curtin: bool = False) -> str:
    base = server_url.rstrip("/") + METADATA_PATH
    return base + "curtin" if curtin else base


def status_url(server_url: str, node: Node) -> str:
    return f"{server_url.rstrip('/')}{METADATA_PATH}status/{node.system_id}"


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


def compose_preseed(
    node: Node,
    token: TokenSecrets,
    server_url: str,
    status: str,
    syslog: Optional[str] = None,
) -> Dict[str, Any]:
    deploying = status == "deploying"
    preseed: Dict[str, Any] = {
        "datasource": {
            "MAAS": {
                "metadata_url": metadata_url(server_url, curtin=deploying),
                "consumer_key": token.consumer_key,
                "token_key": token.token_key,
                "token_secret": token.token_secret,
            }
        },
        "manage_etc_hosts": True,
        "reporting": reporting_config(server_url, node, token),
    }
    if syslog:
        preseed["rsyslog"] = {"remotes": {"maas": syslog}}
    if deploying:
        preseed["power_state"] = {
            "delay": "now",
            "mode": "reboot",
            "timeout": 1800,
            "condition": "test ! -e /tmp/block-reboot",
        }
    elif status in COMMISSIONING_LIKE and status != "rescue":
        preseed["power_state"] = {
            "delay": "now",
            "mode": "poweroff",
            "timeout": 3600,
            "condition": "test ! -e /tmp/block-poweroff",
        }
    return preseed


def render_cloud_config(data: Dict[str, Any]) -> bytes:
    import yaml

    return b"#cloud-config\n" + yaml.safe_dump(data, default_flow_style=False).encode("utf-8")


def vendor_data(node: Node) -> bytes:
    """MAAS's vendor-data document: ``cloud-init: "#cloud-config\\n…"``."""
    import yaml

    body = node.vendor_data if node.vendor_data is not None else {}
    if isinstance(body, str):
        text = body
    else:
        text = "#cloud-config\n" + yaml.safe_dump(body, default_flow_style=False)
    return yaml.safe_dump({"cloud-init": text}, default_flow_style=False).encode("utf-8")
