"""What an install would do, without doing it (`maaslike install --dry-run`).

The storage layout is planned against this machine exactly as the
partitioning stage plans it, so every reason that stage would stop for (a
disk in use, a missing program, preserved content that does not match, a
layout that does not fit) is listed under ``problems``, one line each, and
`maaslike install --dry-run` exits non-zero when there is any.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple

from ..config.model import InstallConfig
from .builtins import describe


def _sources(config: InstallConfig) -> List[str]:
    """The sources as the extract stage will read them (parsed at validation)."""
    return [f"{source.kind}:{source.uri}" for source in config.parsed("sources", ())]


def _devices(config: InstallConfig) -> Tuple[List[str], List[str]]:
    """What the partitioning stage would write on this machine, planned for real; and why it would stop."""
    from ..config.problems import ConfigInvalid
    from ..errors import MaaslikeError
    from .blockmeta import has_dd_source, plan_storage

    stage = config.stage("partitioning")
    if stage is None or not any(c.is_builtin_form and c.argv and c.argv[1] == "block-meta"
                                for c in stage.commands):
        return [], []
    try:
        if has_dd_source(config):
            from ..storage.simple import BlockMetaSettings, choose_disk

            # as the extract stage chooses it
            disk = choose_disk(config.parsed("storage"), config.parsed("block-meta", BlockMetaSettings()))
            return [f"{disk.path} (the whole disk, with the dd image)"], []
        _, plan = plan_storage(config)
    except ConfigInvalid as exc:
        return [f"(the install would stop here: {exc})"], [str(p) for p in exc.problems]
    except MaaslikeError as exc:
        return [f"(the install would stop here: {exc})"], [str(exc)]
    return plan.devices_written(), []


def _afterwards(plan: Mapping[str, Any]) -> Optional[str]:
    """What happens once the stages are done; kexec's reboot replaces power_state when it loads a kernel."""
    configured = plan.get("power_state")
    if not plan.get("kexec"):
        return str(configured) if configured else None
    return ("reboot now with kexec into the default entry of the target's grub.cfg"
            f" (if that names no kernel: {configured or 'nothing'})")


def make_plan(config: InstallConfig) -> Dict[str, Any]:
    devices, problems = _devices(config)
    return {
        "stages": [
            {
                "name": stage.name,
                "commands": [
                    {"key": c.key, "command": c.display,
                     "what": describe(c.argv) if c.argv is not None else "run with sh -c"}
                    for c in stage.commands
                ],
            }
            for stage in config.stages
        ],
        "devices": devices,
        "problems": problems,
        "sources": _sources(config),
        "target": config.install.target,
        "log_file": config.install.log_file,
        "reporting": [h.endpoint for h in config.webhooks]
        + ([config.legacy_reporter.url] if config.legacy_reporter else []),
        "power_state": config.power_state.mode if config.power_state else None,
        "kexec": config.kexec,
    }


def format_plan(plan: Mapping[str, Any]) -> str:
    lines = ["stages:"]
    for stage in plan["stages"]:
        lines.append(f"  {stage['name']}:" + ("" if stage["commands"] else " (nothing to run)"))
        for command in stage["commands"]:
            lines.append(f"    {command['key']}: {command['command']}  # {command['what']}")
    lines.append("devices that would be written:")
    lines += [f"  {d}" for d in plan["devices"]] or ["  none"]
    lines.append("sources that would be fetched:")
    lines += [f"  {s}" for s in plan["sources"]] or ["  none"]
    if plan["reporting"]:
        lines.append("progress reported to:")
        lines += [f"  {r.split('?')[0]}" for r in plan["reporting"]]
    afterwards = _afterwards(plan)
    if afterwards:
        lines.append(f"afterwards: {afterwards}")
    if plan.get("problems"):
        lines.append("the install would stop before writing anything:")
        lines += [f"  {p}" for p in plan["problems"]]
    return "\n".join(lines)
