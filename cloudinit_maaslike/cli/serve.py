"""`maaslike serve`: a MAAS-compatible metadata and preseed server."""

from __future__ import annotations

import argparse
import os
import re

_SIZE = re.compile(r"^\s*([0-9]+)\s*([KMGT]?)(?:i?B)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}

# What one client may cost (state.ServerOptions holds the same defaults).
DEFAULT_MAX_BODY_SIZE = "64M"
DEFAULT_MAX_EVENT_ATTACHMENTS = "256M"
DEFAULT_MAX_NODE_ATTACHMENTS = "1G"
DEFAULT_HEADER_TIMEOUT = 20.0
DEFAULT_IDLE_TIMEOUT = 60.0
DEFAULT_BODY_TIMEOUT = 300.0


def parse_size(text: str) -> int:
    """Bytes from ``1048576``, ``512K``, ``64M``, ``1G`` or ``1GiB`` (binary units); at least 1."""
    match = _SIZE.match(text)
    if not match or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(
            f"not a size: {text!r} (a positive number of bytes, or with K, M or G: 64M)")
    return int(match.group(1)) * _UNITS[match.group(2).upper()]


def parse_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < 10 ** 6:  # nan fails this too
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r} (more than 0: 20, 0.5)")
    return value


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
    limits = parser.add_argument_group(
        "limits", "what one client may cost; past a size the request is refused (413), past a time"
        " the connection is closed (408 for a body)")
    limits.add_argument("--max-body-size", type=parse_size, default=DEFAULT_MAX_BODY_SIZE, metavar="SIZE",
                        help="largest request body, as sent (default: %(default)s)")
    limits.add_argument("--max-event-attachments", type=parse_size, default=DEFAULT_MAX_EVENT_ATTACHMENTS,
                        metavar="SIZE", help="decoded (base64, bzip2) bytes of the files one event or"
                        " signal may attach (default: %(default)s)")
    limits.add_argument("--max-node-attachments", type=parse_size, default=DEFAULT_MAX_NODE_ATTACHMENTS,
                        metavar="SIZE", help="bytes of attached files kept per node in --state-dir,"
                        " all events together (default: %(default)s)")
    limits.add_argument("--header-timeout", type=parse_seconds, default=DEFAULT_HEADER_TIMEOUT,
                        metavar="SECONDS", help="time a new connection has to send a whole request"
                        " head (default: %(default)g)")
    limits.add_argument("--idle-timeout", type=parse_seconds, default=DEFAULT_IDLE_TIMEOUT,
                        metavar="SECONDS", help="time a kept-alive connection may wait, after a"
                        " response, for its next request head (default: %(default)g)")
    limits.add_argument("--body-timeout", type=parse_seconds, default=DEFAULT_BODY_TIMEOUT,
                        metavar="SECONDS", help="time a request body has to arrive once its head has"
                        " (default: %(default)g)")
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
        max_body_size=args.max_body_size,
        max_event_attachments=args.max_event_attachments,
        max_node_attachments=args.max_node_attachments,
        header_timeout=args.header_timeout,
        idle_timeout=args.idle_timeout,
        body_timeout=args.body_timeout,
    )
    serve_forever(nodes, options)
    return 0
