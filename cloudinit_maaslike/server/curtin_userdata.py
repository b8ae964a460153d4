"""A node's curtin user-data, built the way MAAS builds it.

MAAS's ``get_curtin_yaml_config`` makes one YAML document per concern and
``curtin pack`` numbers them ``config-000.cfg``…, later ones overriding
earlier ones, with the install source as the command's last argument.  The
order here is MAAS's: storage, reporter, network, swap, kernel, cloudconfig,
then the rendered ``curtin_userdata`` template.  Storage, network, swap and
kernel come from the node's ``curtin:`` section in the inventory (MAAS
derives them from its database); whatever else that section holds goes last,
so an inventory can override anything (MAAS has no such part).

`compose_curtin_configs` is pure (texts in, texts out); `pack_curtin_userdata`
hands them to the project's packer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Tuple

from .compose import datasource_config, dump_yaml, metadata_url, reporting_config
from .inventory import Node
from .oauthcheck import TokenSecrets
from .templates import TemplateFailed

# Where MAAS tells curtin to keep its log and error tarball (posted back as files).
INSTALL_LOG = "/tmp/install.log"
ERROR_TARFILE = "/tmp/curtin-logs.tar"
GRUB2_DEBCONF = "grub2   grub2/update_nvram  boolean false"
# Keys MAAS drops from the rendered template (the reboot comes from the preseed).
DEPRECATED_KEYS = ("power_state", "apt_proxy", "apt_mirrors")
# Inventory keys that become parts of their own, in MAAS's places.
_OWN_PARTS = ("storage", "network", "swap", "kernel")


@dataclass(frozen=True)
class CurtinUserData:
    configs: Tuple[str, ...]  # YAML texts, config-000.cfg first
    source: str


def reporter_part(server_url: str, node: Node, token: TokenSecrets) -> Dict[str, Any]:
    """Events to this server's status endpoint, with the log and tarball attached."""
    return {
        "reporting": reporting_config(server_url, node, token),
        "install": {
            "log_file": INSTALL_LOG,
            "error_tarfile": ERROR_TARFILE,
            "post_files": [INSTALL_LOG, ERROR_TARFILE],
        },
    }


def cloudconfig_part(server_url: str, node: Node, token: TokenSecrets) -> Dict[str, Any]:
    """Files that point the installed system's cloud-init back at this server."""
    datasource = {"datasource": datasource_config(metadata_url(server_url), token)}
    reporting = {"reporting": reporting_config(server_url, node, token)}
    return {"cloudconfig": {
        "maas-datasource": {
            "path": "/etc/cloud/cloud.cfg.d/90_maas_datasource.cfg",
            "content": "datasource_list: [ MAAS ]",
        },
        "maas-cloud-config": {
            "path": "/etc/cloud/cloud.cfg.d/90_maas_cloud_config.cfg",
            "content": "#cloud-config\n" + dump_yaml(datasource),
        },
        "maas-reporting": {
            "path": "/etc/cloud/cloud.cfg.d/90_maas_cloud_init_reporting.cfg",
            "content": "#cloud-config\n" + dump_yaml(reporting),
        },
    }}


def node_parts(curtin: Mapping[str, Any]) -> Dict[str, Optional[Dict[str, Any]]]:
    """The inventory's ``curtin:`` split into MAAS's parts (None where absent)."""
    parts: Dict[str, Optional[Dict[str, Any]]] = dict.fromkeys((*_OWN_PARTS, "extra"))
    if curtin.get("storage") is not None:
        parts["storage"] = {
            "partitioning_commands": {"builtin": ["curtin", "block-meta", "custom"]},
            "storage": curtin["storage"],
        }
    if curtin.get("network") is not None:
        parts["network"] = {
            "network_commands": {"builtin": ["curtin", "net-meta", "custom"]},
            "network": curtin["network"],
        }
    for name in ("swap", "kernel"):
        if curtin.get(name) is not None:
            parts[name] = {name: curtin[name]}
    extra = {k: v for k, v in curtin.items() if k not in _OWN_PARTS}
    parts["extra"] = extra or None
    return parts


def main_config(rendered: str, template_name: str, release: str) -> Dict[str, Any]:
    """The rendered ``curtin_userdata`` template, post-processed like MAAS does."""
    import yaml

    try:
        config = yaml.safe_load(rendered)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise TemplateFailed(f"preseed template {template_name} renders invalid YAML{line}") from None
    except RecursionError:
        raise TemplateFailed(f"preseed template {template_name} renders YAML that nests too deeply") from None
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise TemplateFailed(
            f"preseed template {template_name} renders a {type(config).__name__}, not a mapping")
    for key in DEPRECATED_KEYS:
        config.pop(key, None)
    if release == "precise":
        config["power_state"] = {"mode": "reboot"}
    selections = config.get("debconf_selections")
    if not isinstance(selections, dict):
        selections = {}
    selections["grub2"] = GRUB2_DEBCONF
    config["debconf_selections"] = selections
    if config.get("late_commands") is None:
        config["late_commands"] = {}
    return config


def compose_curtin_configs(node: Node, token: TokenSecrets, server_url: str, rendered: str,
                           template_name: str, source: str) -> CurtinUserData:
    """The config texts, in MAAS's order, and the source the command ends with."""
    parts = node_parts(node.curtin)
    ordered: List[Optional[Dict[str, Any]]] = [
        parts["storage"],
        reporter_part(server_url, node, token),
        parts["network"],
        parts["swap"],
        parts["kernel"],
        cloudconfig_part(server_url, node, token),
        main_config(rendered, template_name, node.release),
        parts["extra"],
    ]
    return CurtinUserData(tuple(dump_yaml(p) for p in ordered if p is not None), source)


def pack_curtin_userdata(userdata: CurtinUserData) -> bytes:
    """The self-extracting payload a node downloads as its curtin user-data."""
    from ..payload import pack

    return bytes(pack(userdata.configs, sources=[userdata.source]))

