"""What an install would do, without doing it (`maaslike install --dry-run`)."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping

from ..config.model import InstallConfig
from .builtins import describe


def _sources(raw: Mapping[str, Any]) -> List[str]:
    sources = raw.get("sources") or {}
    if isinstance(sources, Mapping):
        items = [sources[k] for k in sorted(sources)]
    elif isinstance(sources, list):
        items = list(sources)
    else:
        items = []
    out = []
    for item in items:
        if isinstance(item, Mapping):
            out.append(f"{item.get('type', 'tgz')}:{item.get('uri', '?')}")
        else:
            out.append(str(item))
    return out


def _devices(config: InstallConfig) -> List[str]:
    """What the partitioning stage would write on this machine, planned for real."""
    from ..errors import MaaslikeError
    from .blockmeta import has_dd_source, plan_storage

    stage = config.stage("partitioning")
    if stage is None or not any(c.is_builtin_form and c.argv and c.argv[1] == "block-meta"
                                for c in stage.commands):
        return []
    if has_dd_source(config.raw):
        return ["the disk the dd image is written to (chosen like simple mode)"]
    try:
        _, plan = plan_storage(config.raw)
    except MaaslikeError as exc:
        return [f"(the install would stop here: {exc})"]
    return plan.devices_written()


def make_plan(config: InstallConfig) -> Dict[str, Any]:
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
        "devices": _devices(config),
        "sources": _sources(config.raw),
        "target": config.install.target,
        "log_file": config.install.log_file,
        "reporting": [h.endpoint for h in config.webhooks]
        + ([config.legacy_reporter.url] if config.legacy_reporter else []),
        "power_state": config.power_state.mode if config.power_state else None,
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
    if plan["power_state"]:
        lines.append(f"afterwards: {plan['power_state']}")
    return "\n".join(lines)
