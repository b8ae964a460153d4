"""The YAML documents that carry a network config: the install's and cloud-init's.

``OUTPUT_NETWORK_CONFIG`` and the cloud-init drop-in
(``50-curtin-networking.cfg``) are the same document, ``network: <config>``
with the config as given (v1 or v2), so the installed system's cloud-init
renders exactly what MAAS sent.  When something else renders the network
(ENI, netplan), ``curtin-disable-cloudinit-networking.cfg`` stops the
target's cloud-init from writing a fallback config over it.
"""

from __future__ import annotations

from typing import Any, Mapping

import yaml

CLOUDCFG_DIR = "etc/cloud/cloud.cfg.d"
PASSTHROUGH_FILE = f"{CLOUDCFG_DIR}/50-curtin-networking.cfg"
DISABLE_FILE = f"{CLOUDCFG_DIR}/curtin-disable-cloudinit-networking.cfg"
HEADER = "# Written by cloudinit-maaslike (curtin net-meta): the network config of this install.\n"
DISABLE_TEXT = ("# Written by cloudinit-maaslike (curtin net-meta): the network is configured by the\n"
                "# files the installer wrote, not by cloud-init.\n"
                "network: {config: disabled}\n")


def network_document(network: Mapping[str, Any]) -> str:
    """``network: <config>`` in block style (never a one-liner: curtin treats one line as empty)."""
    return HEADER + yaml.safe_dump({"network": dict(network)}, default_flow_style=False, sort_keys=False)


def render_cloudinit_dropin(network: Mapping[str, Any]) -> str:
    return network_document(network)
