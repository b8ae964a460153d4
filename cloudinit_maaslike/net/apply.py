"""Write the install's network config into the target, in the form the target reads.

The renderer is chosen from what the target has (see `targetinfo`):

| the target has                        | written                                                 |
|---------------------------------------|---------------------------------------------------------|
| cloud-init listing NETWORK_CONFIG_V2  | cloud.cfg.d/50-curtin-networking.cfg (the config as is) |
| else /usr/sbin/netplan                | netplan/50-curtin-networking.yaml (0600, v1 converted)  |
| else                                  | network/interfaces + udev 70-persistent-net.rules (v1)  |

With netplan or ENI, a target that has cloud-init also gets
``curtin-disable-cloudinit-networking.cfg``, so its first boot keeps our files.
``network: {config: disabled}`` writes only what tells cloud-init so (the
drop-in, or the disable file); an empty config file (``net-meta disabled``)
writes nothing, or copies ``OUTPUT_INTERFACES`` when that holds something,
as curtin does.  A v2 config needs cloud-init with v2 or netplan: ENI cannot
say it, and that is an error naming the target.  Files are replaced
atomically with the same content on every run, so applying twice is applying
once.
"""

from __future__ import annotations

import logging
import os
from typing import List, Optional, Tuple

import yaml

from .. import targetfs
from .cloudcfg import DISABLE_FILE, DISABLE_TEXT, PASSTHROUGH_FILE, render_cloudinit_dropin
from .eni import render_eni
from .errors import NetworkApplyError
from .model import NetworkConfig
from .netplan import NETPLAN_FILE, render_netplan
from .schema import parse_network
from .targetinfo import RunInTarget, TargetNetworking, probe_target
from .udev import RULES_FILE, render_udev_rules

ENI_FILE = "etc/network/interfaces"
Planned = List[Tuple[str, str, int]]  # target-relative path, content, mode


def choose_renderer(config: NetworkConfig, target: TargetNetworking) -> str:
    """``cloud-init``, ``netplan``, ``eni``, ``disable`` (cloud-init off only) or ``none``."""
    if target.cloudinit_supports_v2:
        return "cloud-init"
    if config.disabled:
        return "disable" if target.has_cloudinit else "none"
    if target.has_netplan:
        return "netplan"
    return "eni"


def plan_files(config: NetworkConfig, target: TargetNetworking, where: str = "the target",
               log: Optional[logging.Logger] = None) -> Tuple[str, Planned]:
    renderer = choose_renderer(config, target)
    files: Planned = []
    if renderer == "cloud-init":
        files.append((PASSTHROUGH_FILE, render_cloudinit_dropin(config.raw), 0o644))
    elif renderer == "netplan":
        files.append((NETPLAN_FILE, render_netplan(config, log), 0o600))
    elif renderer == "eni":
        if config.version == 2:
            raise NetworkApplyError(
                f"network config version 2 cannot be written into {where}: it has neither a cloud-init "
                "that reads v2 (NETWORK_CONFIG_V2) nor /usr/sbin/netplan; give a version 1 config for this image")
        files += [(ENI_FILE, render_eni(config), 0o644), (RULES_FILE, render_udev_rules(config), 0o644)]
    if renderer in ("netplan", "eni", "disable") and target.has_cloudinit:
        files.append((DISABLE_FILE, DISABLE_TEXT, 0o644))
    return renderer, files


def write_file(target: str, relative: str, content: str, mode: int) -> None:
    """Replace ``target/relative`` atomically, its links resolved inside the target.

    An image whose ``etc/network`` is an absolute link (``-> /etc/network``)
    gets the file where the booted image will look for it, never on the host.
    """
    targetfs.write_file(target, relative, content, mode)


def load_network_file(config_path: str) -> Optional[NetworkConfig]:
    """The parsed ``network:`` of an OUTPUT_NETWORK_CONFIG file; None when it holds no config."""
    try:
        with open(config_path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise NetworkApplyError(f"cannot read the network config {config_path}: {exc.strerror or exc}")
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise NetworkApplyError(f"the network config {config_path} is not YAML{line}")
    if document is None:
        return None
    if not isinstance(document, dict) or "network" not in document:
        raise NetworkApplyError(f"the network config {config_path} has no 'network:' key at the top")
    if document["network"] is None:
        return None
    return parse_network(document["network"], where=config_path)


def apply_network(target: str, config_path: str, log: logging.Logger,
                  run_in_target: Optional[RunInTarget] = None,
                  interfaces_path: Optional[str] = None) -> List[str]:
    """Write the network config at `config_path` into `target`; returns the files written (/etc/…)."""
    config = load_network_file(config_path)
    if config is None:
        text = ""
        if interfaces_path and os.path.isfile(interfaces_path):
            with open(interfaces_path, encoding="utf-8") as handle:
                text = handle.read()
        if not text.strip():
            log.info("network: no network config to apply; the target's own networking stays")
            return []
        write_file(target, ENI_FILE, text, 0o644)
        log.info("network: no network config; copied %s to /%s", interfaces_path, ENI_FILE)
        return ["/" + ENI_FILE]
    found = probe_target(target, run_in_target, log)
    renderer, files = plan_files(config, found, target, log)
    log.info("network: target cloud-init %s (features from %s: %s), netplan %s: rendering with %s",
             found.cloudinit_version or ("present" if found.has_cloudinit else "absent"),
             found.features_from or "nothing", ", ".join(found.features) or "none",
             "present" if found.has_netplan else "absent", renderer)
    for relative, content, mode in files:
        try:
            write_file(target, relative, content, mode)
        except (OSError, targetfs.TargetPathError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            raise NetworkApplyError(f"cannot write /{relative} in the target {target}: {reason}")
    return ["/" + relative for relative, _, _ in files]
