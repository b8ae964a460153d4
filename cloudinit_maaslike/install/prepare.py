"""From config parts to a validated config and a working directory.

Everything that can be wrong with a config is found here, before the working
directory exists and long before any stage touches a disk.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, Mapping, Optional, Tuple

from ..config.merge import merge_configs
from ..config.model import InstallConfig
from ..config.parse import WHOLE, Validator, parse_install_config
from ..curthooks.steps import parse_curthooks
from ..net.schema import validate_network
from ..sources.spec import validate_sources
from ..storage.schema import validate_storage
from ..storage.simple import parse_block_meta
from .workdir import WorkDir, check_target, create_workdir

# The sections the parts own are checked by the parts, at the same time as the
# rest of the config: before any stage runs.
SECTION_VALIDATORS: Dict[str, Validator] = {
    "storage": validate_storage,
    "sources": validate_sources,
    "network": validate_network,
    "block-meta": parse_block_meta,
    # every section the curthooks read, parsed into one CurthooksSettings (apt
    # also reads legacy top-level keys: apt_proxy, apt_mirrors, debconf_selections)
    WHOLE + "curthooks": lambda raw, path, problems: parse_curthooks(raw, problems),
}


def validated_config(
    configs: Iterable[Mapping[str, Any]],
    sets: Iterable[str] = (),
    sources: Iterable[str] = (),
    where: str = "install config",
) -> InstallConfig:
    return checked_config(merge_configs(configs, sets, sources), where)


def checked_config(merged: Mapping[str, Any], where: str = "install config") -> InstallConfig:
    """Validate an already merged config, parts' sections included."""
    return parse_install_config(merged, SECTION_VALIDATORS, where)


def prepare(
    config: InstallConfig,
    target: Optional[str] = None,
    base: Optional[str] = None,
) -> Tuple[InstallConfig, WorkDir]:
    """Create the working directory; the target is the CLI's, else install.target."""
    chosen = target or config.install.target
    if chosen:
        check_target(chosen)
    work = create_workdir(config.raw, base=base, target=chosen)
    return config, work
