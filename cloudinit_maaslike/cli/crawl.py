"""`maaslike crawl`: read a node's metadata as the datasource would.

The settings come from flags, from a cloud-config file (`--config`), or from
a preseed fetched like cloud-init fetches ``cloud-config-url=``
(`--preseed-url`); flags given explicitly win over the file or preseed.
Standard output is one JSON object; failures are one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict


def add_parser(parser: argparse.ArgumentParser) -> None:
    source = parser.add_argument_group("where the settings come from (pick one)")
    source.add_argument("--metadata-url", help="the MAAS metadata URL (http(s):// or file://)")
    source.add_argument("--config", metavar="FILE",
                        help="a cloud-config holding datasource: MAASLike: or MAAS:")
    source.add_argument("--preseed-url", metavar="URL",
                        help="fetch a #cloud-config preseed as for cloud-config-url=")
    creds = parser.add_argument_group("OAuth credentials (with --metadata-url)")
    creds.add_argument("--consumer-key")
    creds.add_argument("--consumer-secret")
    creds.add_argument("--token-key")
    creds.add_argument("--token-secret")
    tuning = parser.add_argument_group("tuning")
    tuning.add_argument("--max-wait", type=float, help="overall deadline in seconds (default 120)")
    tuning.add_argument("--timeout", type=float, help="per-request timeout in seconds (default 10)")
    tuning.add_argument("--request-deadline", type=float,
                        help="seconds for one whole answer, body included (default 30)")
    tuning.add_argument("--max-item-size", type=int, metavar="BYTES",
                        help="the largest item accepted (default 67108864, 64 MiB)")
    tuning.add_argument("--retries", type=int, help="at most this many retries per item")
    tuning.add_argument("--skew-file", help="where learned clock skew is kept")
    parser.add_argument("--output", metavar="DIR",
                        help="write a seed directory in the MAAS layout (0700, files 0600)")


def _settings(args: argparse.Namespace) -> Any:
    from ..dsconfig import source_config
    from ..errors import ConfigError

    chosen = [n for n in ("metadata_url", "config", "preseed_url") if getattr(args, n)]
    if len(chosen) != 1:
        raise ConfigError("arguments", "give exactly one of --metadata-url, --config, --preseed-url")
    where = None
    if args.config:
        from ..preseed import parse_preseed

        try:
            with open(args.config, "rb") as handle:
                body = handle.read()
        except OSError as exc:
            raise ConfigError("--config", f"cannot read {args.config}: {exc.strerror}") from None
        cfg = parse_preseed(body, args.config, require_header=False)
        where = args.config
    elif args.preseed_url:
        from ..preseed import fetch_preseed

        cfg = fetch_preseed(args.preseed_url)
        where = args.preseed_url
    else:
        cfg = {}
    section: Dict[str, Any] = {}
    for flag in ("metadata_url", "consumer_key", "consumer_secret", "token_key", "token_secret"):
        if getattr(args, flag) is not None:
            section[flag] = getattr(args, flag)
    for flag in ("max_wait", "timeout", "retries", "skew_file", "request_deadline", "max_item_size"):
        if getattr(args, flag) is not None:
            section[flag] = getattr(args, flag)
    if section:
        merged = dict(cfg)
        datasource = dict(merged.get("datasource") or {})
        ours = dict(datasource.get("MAASLike") or {})
        if "metadata_url" in section:  # flags replace the endpoint group entirely
            ours = {}
        ours.update(section)
        datasource["MAASLike"] = ours
        merged["datasource"] = datasource
        cfg = merged
    settings = source_config(cfg, where)
    if not settings.metadata_url:
        raise ConfigError(f"{settings.origin}.metadata_url", "not set", where)
    return settings


def run(args: argparse.Namespace) -> int:
    from ..clockskew import ServerClock, default_skew_file
    from ..metadata import crawl, write_seed

    settings = _settings(args)
    clock = ServerClock(settings.skew_file or default_skew_file())
    md, stats = crawl(
        settings.metadata_url,
        settings.credentials,
        timeout=settings.timeout,
        max_wait=settings.max_wait,
        retries=settings.retries,
        clock=clock,
        request_deadline=settings.request_deadline,
        max_item_size=settings.max_item_size,
    )
    if args.output:
        write_seed(args.output, md)
    report = {
        "instance-id": md.instance_id,
        "local-hostname": md.local_hostname,
        "public-keys": list(md.public_keys),
        "user-data-sha256": md.userdata_sha256,
        "user-data-bytes": len(md.userdata_raw) if md.userdata_raw is not None else None,
        "vendor-data-bytes": len(md.vendordata_raw) if md.vendordata_raw is not None else None,
        "source": md.source,
        "requests": stats.requests,
        "seconds": round(stats.seconds, 4),
        "clock-offset-seconds": round(stats.clock_offset, 1),
    }
    if args.output:
        report["output"] = args.output
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0
