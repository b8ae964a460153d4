"""`maaslike serve`: a MAAS-compatible metadata and preseed server."""

from __future__ import annotations

import argparse
import os


def default_state_dir() -> str:
    if os.geteuid() == 0:
        return "/var/lib/cloudinit-maaslike/server"
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return os.path.join(base, "cloudinit-maaslike", "server")


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nodes", required=True, metavar="FILE", help="node inventory (YAML)")
    parser.add_argument("--state-dir", default=None,
                        help="credentials and node records (default: "
                        f"{default_state_dir()})")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=5248, help="port (default: %(default)s, MAAS's)")
    parser.add_argument("--server-url", help="base URL nodes use to reach this server"
                        " (default: the Host each request was sent to)")
    parser.add_argument("--templates", metavar="DIR",
                        help="preseed templates, searched before the shipped defaults"
                        " (MAAS's names: curtin_userdata_<osystem>_<arch>_…)")
    parser.add_argument("--images", metavar="DIR",
                        help="serve the files in DIR under /images/ (Range, sendfile)")
    parser.add_argument("--latency", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--clock-offset", type=float, default=0.0, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    import logging

    from ..errors import ConfigError
    from ..server.inventory import load_inventory
    from ..server.runner import serve_forever
    from ..server.state import ServerOptions

    logging.getLogger().setLevel(min(logging.getLogger().level, logging.INFO))
    nodes = load_inventory(args.nodes)
    for flag, path in (("--templates", args.templates), ("--images", args.images)):
        if path and not os.path.isdir(path):
            raise ConfigError(flag, f"not a directory: {path}")
    options = ServerOptions(
        state_dir=args.state_dir or default_state_dir(),
        host=args.host,
        port=args.port,
        server_url=args.server_url,
        latency=args.latency,
        clock_offset=args.clock_offset,
        templates_dir=args.templates,
        images_dir=args.images,
    )
    serve_forever(nodes, options)
    return 0
