"""The network stage's built-in: `curtin net-meta auto|dhcp|copy|custom|disabled [-D DEV]…`.

As in curtin: an image's ``/curtin/network-config`` runs instead, if the
target has one; ``disabled`` writes nothing; a ``network:`` key forces
custom mode.  The config is chosen (`net.modes`), checked (`net.schema`) and
rendered in full before the first file is written; then
``OUTPUT_NETWORK_CONFIG``, ``OUTPUT_NETWORK_STATE`` and ``OUTPUT_INTERFACES``
are replaced (not appended to), so running the step twice is running it once.
Nothing is written into the target here: curthooks does that
(`net.apply_network`), after extract.
"""

from __future__ import annotations

import argparse
import os
from typing import Any, NoReturn, Sequence

from .. import targetfs
from ..net.discover import SYS_CLASS_NET
from ..net.errors import NetworkError
from ..net.modes import MODES, plan_net_meta
from ..net.outputs import stage_outputs
from ..net.schema import parse_network
from ..privatefile import write_private
from ..runner import CommandFailed, run_streaming
from .context import StepContext

HOOK = "curtin/network-config"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise NetworkError(f"curtin net-meta: {message} (usage: curtin net-meta [-D DEVICE]… "
                           f"{{{','.join(MODES)}}})")


def parse_args(args: Sequence[str]) -> argparse.Namespace:
    parser = _Parser(prog="curtin net-meta", add_help=False)
    parser.add_argument("-D", "--devices", action="append", default=[])
    parser.add_argument("-o", "--output", default=None, help="where the ENI goes (default OUTPUT_INTERFACES)")
    parser.add_argument("-t", "--target", default=None)
    parser.add_argument("mode", choices=MODES)
    return parser.parse_args(list(args))


def _run_hook(ctx: StepContext, path: str) -> None:
    ctx.log.info("network: running the image's /%s instead of the built-in", HOOK)
    done = run_streaming([path], ctx.env, ctx.log, cwd=ctx.work.scratch, redact=ctx.redact)
    if done.returncode != 0:
        raise CommandFailed(ctx.stage, "network-config", path, done.returncode, done.tail)


def net_meta(ctx: StepContext, args: Sequence[str], sysfs: str = SYS_CLASS_NET,
             cmdline_path: str = "/proc/cmdline") -> None:
    parsed = parse_args(args)
    target = parsed.target or ctx.work.target
    hook = targetfs.resolve(target, HOOK)
    if os.path.isfile(hook):
        _run_hook(ctx, hook)
        return
    given = ctx.config.parsed("network")  # parsed at validation; its raw copy is what curtin's files carry
    network: Any = given.raw if given is not None else None
    plan = plan_net_meta(parsed.mode, network, target, parsed.devices, sysfs, cmdline_path, ctx.log)
    if plan.network is None:
        ctx.log.info("network: net-meta %s: nothing written", plan.mode)
        return
    if plan.mode == "custom":  # the install config's own, parsed at validation
        config = ctx.config.parsed("network")
    else:
        config = parse_network(plan.network, where=f"net-meta {plan.mode} config")
    outputs = stage_outputs(plan.network, config, plan.copied_interfaces)
    write_private(ctx.work.state_file("network_config"), outputs.network_config)
    write_private(ctx.work.state_file("network_state"), outputs.network_state)
    write_private(parsed.output or ctx.work.state_file("interfaces"), outputs.interfaces)
    if config.disabled:
        summary = "config: disabled"
    elif config.version == 2:
        summary = "version 2, passed through"
    else:
        summary = f"version 1, {len(config.interfaces)} interface(s): " + \
            (", ".join(i.name for i in config.interfaces) or "none")
    ctx.log.info("network: net-meta %s: %s", plan.mode, summary)
