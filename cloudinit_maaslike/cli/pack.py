"""`maaslike pack`: make an install payload in curtin's pack format.

Each config must be valid YAML (a mistake is reported with its file and line
before anything is written), ``--set`` values must apply, and the output is
written atomically with mode 0600 because MAAS-style configs carry tokens.
The payload carries this project, so a node without it still installs when
cloud-init runs the payload as a script.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import List, Tuple


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", metavar="FILE", action="append", required=True,
                        help="a curtin config (YAML); repeat for more, merged in order")
    parser.add_argument("--add", "-a", metavar="ARCHIVE_PATH:FILE_PATH", action="append", default=[],
                        help="also carry file or directory FILE_PATH as archive member ARCHIVE_PATH (curtin's order)")
    parser.add_argument("--set", metavar="KEY=VALUE", action="append", default=[], dest="sets",
                        help="a curtin --set for the packed command (KEY may be a/b/c; json:KEY=VALUE for JSON)")
    parser.add_argument("--output", "-o", metavar="OUT", default="-",
                        help="where to write the payload (default -: standard output, as curtin pack)")
    parser.add_argument("--no-package", action="store_true",
                        help="do not carry cloudinit-maaslike and bin/curtin (the node must have them)")
    parser.add_argument("sources", metavar="SOURCE", nargs="*",
                        help="what to install (a URL or curtin source such as cp:///media/root-ro)")


def run(args: argparse.Namespace) -> int:
    from ..config.merge import merge_configs
    from ..payload import pack
    from ..payload.configs import parse_config_text
    from ..privatefile import write_private

    texts = [_read_config(path) for path in args.config]
    loaded = [parse_config_text(text, path) for path, text in zip(args.config, texts)]
    merge_configs(loaded, args.sets, args.sources)  # a bad --set fails here, before writing
    data = pack(texts, args.sources, _extra_files(args.add), args.sets, include_package=not args.no_package)
    if args.output == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return 0
    write_private(args.output, data)
    json.dump({"output": args.output, "bytes": len(data), "configs": list(args.config),
               "sources": list(args.sources)}, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def _read_config(path: str) -> str:
    from ..errors import ConfigError

    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise ConfigError("--config", f"cannot read {path}: {exc.strerror}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError("--config", f"{path} is not UTF-8 (byte {exc.start})") from None


def _extra_files(specs: List[str]) -> List[Tuple[str, str]]:
    """(file on this machine, archive member) from curtin's ``ARCHIVE_PATH:FILE_PATH``.

    Split at the first colon, as curtin does.  Earlier releases took
    ``FILE_PATH:ARCHIVE_PATH``; that order is still understood, with a
    warning, when only its first half names an existing file.
    """
    from ..errors import ConfigError

    pairs = []
    for spec in specs:
        member, sep, source = spec.partition(":")
        if not sep or not member or not source:
            raise ConfigError("--add", f"{spec!r} is not ARCHIVE_PATH:FILE_PATH (e.g. curtin/curtin-hooks:./hook)")
        if not os.path.exists(source) and os.path.exists(member):
            print(f"maaslike pack: warning: --add {spec}: FILE_PATH:ARCHIVE_PATH is the old order; "
                  f"curtin's is {source}:{member}", file=sys.stderr)
            member, source = source, member
        pairs.append((source, member))
    return pairs
