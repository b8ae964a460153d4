"""`maaslike install`: the whole install from config files, as curtin install does."""

from __future__ import annotations

import argparse
import json
import sys

DRY_RUN_STOPS = 2  # what an invalid config exits with: the install would not start writing


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--config", action="append", default=[], metavar="FILE",
                        help="an install config (repeat; merged in order, curtin's rules)")
    parser.add_argument("--payload", metavar="FILE",
                        help="a MAAS/curtin payload: its configs, command and carried files"
                             " (decoded, never executed)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="set a config value, e.g. install/unmount=disabled; json:KEY=VALUE for JSON")
    parser.add_argument("-t", "--target", help="install into this (empty) directory")
    parser.add_argument("--workdir", metavar="DIR", help="where the working directory is made")
    parser.add_argument("--dry-run", action="store_true",
                        help="validate and print the plan; change nothing")
    parser.add_argument("--json", action="store_true", help="with --dry-run: print the plan as JSON")
    parser.add_argument("source", nargs="*", help="install source(s), as curtin takes them")


def run(args: argparse.Namespace) -> int:
    from ..config.load import load_config_file
    from ..install.plan import format_plan, make_plan
    from ..install.prepare import prepare, validated_config

    configs = [load_config_file(path) for path in args.config]
    payload = None
    if args.payload:
        from ..payload import decode, merged_config

        try:
            with open(args.payload, "rb") as handle:
                payload = decode(handle.read())
        except OSError as exc:
            from ..errors import ConfigError

            raise ConfigError("--payload", f"cannot read {args.payload}: {exc.strerror}") from None
        configs.insert(0, merged_config(payload))
    config = validated_config(configs, args.set, args.source)
    if args.dry_run:
        plan = make_plan(config)
        if args.target:
            plan["target"] = args.target
        print(json.dumps(plan, indent=2) if args.json else format_plan(plan))
        # the install would stop: say why, one line per problem, and fail as it would
        for problem in plan["problems"]:
            print(f"maaslike install: error: {problem}", file=sys.stderr)
        return DRY_RUN_STOPS if plan["problems"] else 0
    from ..install.engine import Installer

    config, work = prepare(config, target=args.target, base=args.workdir)
    python_paths = []
    if payload is not None and payload.members:
        from ..payload import write_members

        write_members(payload, work.payload)
        python_paths.append(work.payload)
    Installer(config, work, python_paths=python_paths, propagate=False).run()
    print(f"installed into {work.target}; report: {work.report_file}", file=sys.stderr)
    return 0
