"""curtin's subcommands, run natively inside the engine.

A stage command of the form ``[curtin, <subcommand>, …]`` (every built-in
default, and what MAAS sends) runs here in-process instead of as a new
Python process.  `hook` and `in-target` are complete; `block-meta`,
`net-meta`, `extract` and `curthooks` are the extension points the
partitioning, network, extract and curthooks stages plug into.
"""

from __future__ import annotations

import argparse
import os
from typing import Callable, Dict, List, Sequence

from .. import targetfs
from ..chroot import run_in_target
from ..errors import MaaslikeError
from ..runner import CommandFailed, run_streaming
from .context import StepContext

Builtin = Callable[[StepContext, Sequence[str]], None]


class StepUnavailable(MaaslikeError):
    """A built-in this build does not provide yet."""

    exit_code = 3


def hook(ctx: StepContext, args: Sequence[str]) -> None:
    """Run the image's ``/curtin/finalize`` on the host, if it has one."""
    path = targetfs.resolve(ctx.work.target, "curtin/finalize")
    if not os.path.isfile(path):
        ctx.log.info("hook: the image has no /curtin/finalize")
        return
    ctx.log.info("hook: running the image's /curtin/finalize")
    done = run_streaming([path], ctx.env, ctx.log, cwd=ctx.work.scratch, redact=ctx.redact)
    if done.returncode != 0:
        raise CommandFailed(ctx.stage, "finalize", path, done.returncode, done.tail)


def in_target_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="curtin in-target", add_help=True)
    parser.add_argument("-a", "--allow-daemons", action="store_true",
                        help="let package scripts start daemons")
    parser.add_argument("-i", "--interactive", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--capture", action="store_true", help="capture and print the output")
    parser.add_argument("-t", "--target", help="the target (default: $TARGET_MOUNT_POINT)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    return parser


def split_in_target(args: Sequence[str]) -> argparse.Namespace:
    parsed = in_target_parser().parse_args(list(args))
    command: List[str] = parsed.command
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise MaaslikeError("curtin in-target: no command given (use: curtin in-target -- CMD …)")
    parsed.command = command
    return parsed


def in_target(ctx: StepContext, args: Sequence[str]) -> None:
    parsed = split_in_target(args)
    target = parsed.target or ctx.work.target
    done = run_in_target(target, parsed.command, ctx.env, ctx.log,
                         allow_daemons=parsed.allow_daemons, redact=ctx.redact)
    if done.returncode != 0:
        raise CommandFailed(ctx.stage, "in-target", " ".join(parsed.command), done.returncode, done.tail)


def _not_yet(what: str) -> Builtin:
    def unavailable(ctx: StepContext, args: Sequence[str]) -> None:
        raise StepUnavailable(
            f"stage {ctx.stage}: 'curtin {what} {' '.join(args)}'".rstrip()
            + " is not built into this version of cloudinit-maaslike yet; disable it with"
            + f" {ctx.stage}_commands: {{builtin: null}} or give your own commands")
    return unavailable


def _block_meta(ctx: StepContext, args: Sequence[str]) -> None:
    from .blockmeta import block_meta

    block_meta(ctx, args)


def _net_meta(ctx: StepContext, args: Sequence[str]) -> None:
    from .netmeta import net_meta

    net_meta(ctx, args)


def _extract(ctx: StepContext, args: Sequence[str]) -> None:
    from .extract import extract

    extract(ctx, args)


def _curthooks(ctx: StepContext, args: Sequence[str]) -> None:
    from .curthooks import curthooks

    curthooks(ctx, args)


BUILTINS: Dict[str, Builtin] = {
    "hook": hook,
    "in-target": in_target,
    "block-meta": _block_meta,
    "net-meta": _net_meta,
    "extract": _extract,
    "curthooks": _curthooks,
}


def describe(argv: Sequence[str]) -> str:
    """What a built-in command will do, for `--dry-run`."""
    if len(argv) < 2 or argv[0] != "curtin":
        return "run as a command"
    return {
        "hook": "run the image's /curtin/finalize if present",
        "in-target": "run a command chrooted into the target",
        "block-meta": "lay out the disks",
        "net-meta": "write the network config",
        "extract": "fill the target from the sources",
        "curthooks": "configure the installed system",
    }.get(argv[1], "run curtin subcommand as a command")
