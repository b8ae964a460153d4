"""The `maaslike` command: every step of the product, by hand.

Each subcommand lives in its own module with `add_parser` and `run`.  Those
modules import their heavy dependencies inside `run`, so building the parser
stays cheap and `maaslike crawl` does not pay for the server.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import List, Optional

from .. import __version__
from ..errors import MaaslikeError

# subcommand -> one-line help; the module of the same name implements it
COMMANDS = {
    "crawl": "read a node's metadata from a MAAS-style server or seed",
    "serve": "run a stand-in MAAS metadata server",
    "demo": "serve a demo node locally and crawl it",
    "install": "install from curtin-style configs (or --dry-run to see the plan)",
    "in-target": "run a command chrooted into an install target",
    "unpack": "decode an install payload (curtin pack) without running it",
    "pack": "pack curtin configs into an install payload",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="maaslike", description="MAAS-style metadata crawls and installs, by hand."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log progress (-v) or every request (-vv) to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, helptext in COMMANDS.items():
        module = importlib.import_module(f".{name.replace('-', '_')}", __name__)
        command = sub.add_parser(name, help=helptext, description=helptext)
        module.add_parser(command)
        command.set_defaults(run=module.run)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=(logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)],
        format="%(asctime)s %(name)s %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.run(args) or 0)
    except MaaslikeError as exc:
        print(f"maaslike {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"maaslike {args.command}: interrupted", file=sys.stderr)
        return 130
