"""A `curtin` command line, for everything users and images call by that name.

During stage commands `curtin` on PATH is this module, so configs written
for curtin keep working: ``curtin in-target [-a] [--capture] [-t T] -- cmd``
and the built-ins (``curtin hook`` …) run against the current install, found
through the environment the engine exported (``TARGET_MOUNT_POINT``,
``WORKING_DIR``, ``CONFIG``).  A packed payload run as a plain script calls
``curtin [--install-deps] install --config=… SOURCE``, which becomes
`maaslike install`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from typing import List, Optional, Tuple

from . import __version__
from .errors import MaaslikeError

GLOBAL_FLAGS = {"--install-deps", "--verbose", "--showtrace"}
# curtin's main parser also takes -c/--config and --set before the subcommand;
# they merge before the subcommand's own, in command-line order.
GLOBAL_CONFIG = {"-c": "--config", "--config": "--config", "--set": "--set"}


def _split_globals(argv: List[str]) -> Tuple[List[str], List[str]]:
    """(config options given before the subcommand, the subcommand and its arguments)."""
    rest, config = list(argv), []
    while rest and rest[0].startswith("-") and rest[0] not in ("-h", "--help", "--version"):
        word = rest.pop(0)
        name, sep, value = word.partition("=")
        if word in GLOBAL_FLAGS or re.fullmatch(r"-v+", word):
            continue
        if name == "--log-file":
            if not sep and rest:
                rest.pop(0)
            continue
        if name in GLOBAL_CONFIG:
            if not sep:
                if not rest:
                    raise MaaslikeError(f"curtin: {word} needs a value")
                value = rest.pop(0)
            config += [GLOBAL_CONFIG[name], value]
            continue
        raise MaaslikeError(f"curtin: unknown option {word!r} before the subcommand")
    return config, rest


def _install(args: List[str]) -> int:
    from .cli import main as maaslike_main

    converted: List[str] = []
    for arg in args:
        if arg.startswith("--config="):
            converted += ["--config", arg.split("=", 1)[1]]
        elif arg.startswith("--set="):
            converted += ["--set", arg.split("=", 1)[1]]
        else:
            converted.append(arg)
    return maaslike_main(["install", *converted])


def _in_target(args: List[str]) -> int:
    from .cli import main as maaslike_main

    return maaslike_main(["in-target", *args])


def _builtin(name: str, args: List[str]) -> int:
    """Run a built-in against the install whose environment we were given."""
    from .install.builtins import BUILTINS
    from .install.context import StepContext
    from .install.prepare import checked_config
    from .install.workdir import WorkDir

    config_path, target = os.environ.get("CONFIG"), os.environ.get("TARGET_MOUNT_POINT")
    top = os.environ.get("MAASLIKE_WORKDIR")
    if not (config_path and target and top):
        raise MaaslikeError(f"curtin {name}: run it inside an install (CONFIG and "
                            "TARGET_MOUNT_POINT are not set)")
    with open(config_path, encoding="utf-8") as handle:
        config = checked_config(json.load(handle), where=config_path)
    log = logging.getLogger("cloudinit_maaslike.install")
    log.setLevel(logging.INFO)
    if not log.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
    stack = os.environ.get("CURTIN_REPORTSTACK", "")
    stage = stack.split("/stage-", 1)[1].split("/", 1)[0] if "/stage-" in stack else name
    ctx = StepContext(config, WorkDir(top, target), stage, stack or name, dict(os.environ), log,
                      lambda s: s)
    BUILTINS[name](ctx, args)
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    try:
        config, args = _split_globals(sys.argv[1:] if argv is None else argv)
    except MaaslikeError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if not args or args[0] in ("-h", "--help"):
        print("usage: curtin [--install-deps] {install,in-target,hook,...} …  "
              f"(cloudinit-maaslike {__version__})")
        return 0 if args else 2
    if args[0] == "--version":
        print(f"cloudinit-maaslike {__version__} (curtin-compatible)")
        return 0
    command, rest = args[0], args[1:]
    try:
        if command == "install":
            return _install(config + rest)
        if command == "in-target":
            return _in_target(rest)
        from .install.builtins import BUILTINS

        if command in BUILTINS:
            return _builtin(command, rest)
    except MaaslikeError as exc:
        print(f"curtin {command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"curtin: {command!r} is not supported by cloudinit-maaslike", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
