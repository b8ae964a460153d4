"""Configure the installed system: curtin's curthooks, as small named steps.

`builtin_curthooks(cfg, target, state)` has curtin's meaning and signature,
so an image's own ``/curtin/curtin-hooks`` can run our built-ins and then add
its steps (``from cloudinit_maaslike.curthooks import builtin_curthooks``).
"""

from __future__ import annotations

import logging
from typing import Any, Callable, ContextManager, Dict, List, Mapping, Optional, Sequence

from ..config.problems import Problems
from ..runner import Finished
from .context import HookContext, RunInTarget, StepFailed
from .steps import STEPS, CurthooksSettings, parse_curthooks, run_steps, validate_curthooks

__all__ = ["STEPS", "CurthooksSettings", "HookContext", "StepFailed", "builtin_curthooks", "parse_curthooks",
           "validate_curthooks"]


def builtin_curthooks(
    cfg: Mapping[str, Any],
    target: str,
    state: Mapping[str, Optional[str]],
    *,
    log: Optional[logging.Logger] = None,
    in_target: Optional[RunInTarget] = None,
    event: Optional[Callable[[str, str], ContextManager[None]]] = None,
    settings: Optional[CurthooksSettings] = None,
) -> Dict[str, List[str]]:
    """Run every built-in step on `target`; `state` uses curtin's keys.

    Without `in_target`, commands run in the target through our chroot helper.
    `settings`: the config as the install already parsed it (an image's hook
    passes only `cfg`, which is parsed here, before any step runs).
    """
    log = log or logging.getLogger("cloudinit_maaslike.install")
    if settings is None:
        problems = Problems()
        settings = parse_curthooks(cfg, problems)
        problems.raise_if_any("install config")
    if in_target is None:
        import os

        from ..chroot import run_in_target

        def in_target(argv: Sequence[str], stdin: Optional[str], capture: bool = False) -> Finished:
            return run_in_target(target, argv, dict(os.environ), log, stdin=stdin, capture=capture)

    ctx = HookContext(cfg, target, state, log, in_target, parsed=settings)
    if event is not None:
        ctx.event = event
    return run_steps(ctx, str(state.get("report_stack_prefix") or "curthooks"))
