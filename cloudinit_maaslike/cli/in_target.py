"""`maaslike in-target`: run a command chrooted into a target, as `curtin in-target`."""

from __future__ import annotations

import argparse
import os


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-t", "--target", help="the target (default: $TARGET_MOUNT_POINT)")
    parser.add_argument("-a", "--allow-daemons", action="store_true",
                        help="let package scripts start daemons")
    parser.add_argument("--capture", action="store_true", help="collect the output, then print it")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND …")


def run(args: argparse.Namespace) -> int:
    import logging
    import sys

    from ..chroot import chroot_target_from_env, run_in_target
    from ..errors import MaaslikeError

    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise MaaslikeError("no command given (use: maaslike in-target -t DIR -- COMMAND …)")
    target = chroot_target_from_env(args.target)
    log = logging.getLogger("cloudinit_maaslike.in_target")
    log.propagate = False
    log.setLevel(logging.INFO)
    if not args.capture:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
    done = run_in_target(target, command, os.environ, log, allow_daemons=args.allow_daemons,
                         capture=args.capture)
    if args.capture and done.output:
        sys.stdout.write(done.output)
    return done.returncode
