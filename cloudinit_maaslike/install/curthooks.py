"""The curthooks stage's built-in: `curtin curthooks`.

An image that brings ``/curtin/curtin-hooks`` configures itself: the hook
runs instead of the built-ins (``curthooks.mode`` auto or target), on the
host, with the stage's environment, the payload's curtin package on
PYTHONPATH and ``CURTIN_PYTHON``.  Otherwise the built-in steps run, every
in-target command through the engine's chroot helper and every step
reporting its own event.
"""

from __future__ import annotations

import os
from typing import Dict, Optional, Sequence

from .. import targetfs
from ..chroot import run_in_target
from ..curthooks import builtin_curthooks
from ..curthooks.context import StepFailed
from ..runner import CommandFailed, Finished, run_streaming
from .context import StepContext

HOOK = "curtin/curtin-hooks"


def curtin_state(ctx: StepContext) -> Dict[str, Optional[str]]:
    work = ctx.work
    return {
        "target": work.target,
        "scratch": work.scratch,
        "config": work.config_file,
        "fstab": work.state_file("fstab"),
        "interfaces": work.state_file("interfaces"),
        "network_config": work.state_file("network_config"),
        "network_state": work.state_file("network_state"),
        "storage_config": work.state_file("storage_config"),
        "mdadm_conf": work.state_file("mdadm.conf"),
        "report_stack_prefix": ctx.report_stack,
    }


def curthooks(ctx: StepContext, args: Sequence[str]) -> None:
    settings = ctx.config.parsed("curthooks")
    mode = settings.mode
    hook = targetfs.resolve(ctx.work.target, HOOK)
    if mode in ("auto", "target") and os.path.isfile(hook):
        ctx.log.info("curthooks: the image brings /%s; running it instead of the built-ins", HOOK)
        done = run_streaming([hook], ctx.env, ctx.log, cwd=ctx.work.scratch, redact=ctx.redact)
        if done.returncode != 0:
            raise CommandFailed(ctx.stage, "curtin-hooks", f"/{HOOK}", done.returncode, done.tail)
        return
    if mode == "target":
        raise StepFailed(f"curthooks.mode is target, but the image has no /{HOOK}")

    def in_target(argv: Sequence[str], stdin: Optional[str], capture: bool = False) -> Finished:
        return run_in_target(ctx.work.target, argv, ctx.env, ctx.log, redact=ctx.redact, stdin=stdin,
                             capture=capture)

    builtin_curthooks(ctx.config.raw, ctx.work.target, curtin_state(ctx), log=ctx.log,
                      in_target=in_target, event=ctx.event, settings=settings)

