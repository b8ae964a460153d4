"""The partitioning stage's built-in: `curtin block-meta simple|custom`.

A ``storage:`` config means custom mode (as in curtin, whatever the command
says); without one, simple mode picks a disk and lays it out by platform.
Either way the layout is parsed, planned against the real disks and checked
(sizes, devices in use) before the first write, then written in one go.  A
dd image source skips all of this: the extract stage writes the whole disk.
"""

from __future__ import annotations

import argparse
import logging
import time
from typing import Any, Mapping, Optional, Sequence, Tuple

import yaml

from ..config.model import InstallConfig
from ..privatefile import write_private
from ..storage.apply import apply_plan
from ..storage.commands import run
from ..storage.model import Raid, StorageConfig
from ..storage.plan import StoragePlan, make_plan
from ..storage.schema import parse_storage
from ..storage.simple import BlockMetaSettings, choose_disk, platform, simple_layout
from .context import StepContext


def _parse(args: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="curtin block-meta", add_help=False)
    parser.add_argument("-D", "--devices", action="append", default=[])
    parser.add_argument("--fstype", default=None)
    parser.add_argument("--force-mode", action="store_true")
    parser.add_argument("mode", nargs="?", default="simple", choices=("simple", "custom"))
    return parser.parse_known_args(list(args))[0]


def has_dd_source(config: InstallConfig) -> bool:
    return any(source.kind.startswith("dd-") for source in config.parsed("sources", ()))


def plan_storage(config: InstallConfig, devices: Sequence[str] = (),
                 log: Optional[logging.Logger] = None) -> Tuple[Mapping[str, Any], StoragePlan]:
    """The layout (curtin's version-1 mapping) and its plan against this machine; refuses before any write.

    A ``storage:`` layout was parsed at validation and is used as it is;
    simple mode lays out the disk it picks, and that generated layout is
    parsed here, once.
    """
    parsed: Optional[StorageConfig] = config.parsed("storage")
    if parsed is not None and parsed.raw:
        return config.raw["storage"], make_plan(parsed)
    block_meta = config.parsed("block-meta", BlockMetaSettings())
    disk = choose_disk(parsed, block_meta, devices)
    kind = platform(block_meta)
    if log is not None:
        log.info("partitioning: simple mode, %s layout on %s", kind, disk.path)
    storage = simple_layout(disk, kind)
    return storage, make_plan(parse_storage(storage))


def block_meta(ctx: StepContext, args: Sequence[str]) -> None:
    if has_dd_source(ctx.config):
        ctx.log.info("partitioning: a dd image source; the extract stage writes the disk")
        return
    started = time.monotonic()
    storage, plan = plan_storage(ctx.config, _parse(args).devices, ctx.log)
    for line in plan.devices_written():
        ctx.log.info("partitioning: will write %s", line)
    applied = apply_plan(plan, ctx.work.target)
    fstab = "".join(line + "\n" for line in applied.fstab)
    with open(ctx.work.state_file("fstab"), "a", encoding="utf-8") as handle:
        handle.write(fstab)
    write_private(ctx.work.state_file("storage_config"),
                  yaml.safe_dump({"storage": dict(storage)}, default_flow_style=False))
    if any(isinstance(e, Raid) for e in plan.config.entries):
        # what the installed system needs to assemble the arrays (curtin's mdadm.conf)
        scan = run(["mdadm", "--detail", "--scan"], "describe the RAID arrays")
        write_private(ctx.work.state_file("mdadm.conf"), scan, mode=0o644)
    ctx.log.info("partitioning: done in %.2f s (%d filesystem(s), %d mount(s))",
                 time.monotonic() - started, len(applied.filesystems), len(applied.mounted))
