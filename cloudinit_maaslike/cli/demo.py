"""`maaslike demo`: the whole path on this machine, with nothing to set up.

It starts the stand-in server with a demo node, fetches that node's preseed
the way a booting node does through ``cloud-config-url=``, crawls its
metadata with the preseed's credentials, and prints what it found and what
the server recorded.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile

DEMO_NODES = {
    "nodes": [
        {
            "system_id": "demo01",
            "hostname": "demo-node",
            "domain": "maas",
            "status": "deploying",
            "public_keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDemoKeyOnlyForTheLocalDemo demo@maaslike"],
            "user_data": "#cloud-config\nfinal_message: installed by the maaslike demo\n",
            "vendor_data": {"ntp": {"enabled": True}},
        }
    ]
}


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nodes", metavar="FILE", help="node inventory (default: a built-in demo node)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")


def run(args: argparse.Namespace) -> int:
    from ..dsconfig import source_config
    from ..metadata import crawl, decode_vendordata
    from ..preseed import fetch_preseed
    from ..server.inventory import load_inventory, parse_inventory
    from ..server.runner import BackgroundServer
    from ..server.state import ServerOptions

    nodes = load_inventory(args.nodes) if args.nodes else parse_inventory(DEMO_NODES, "built-in demo")
    node = nodes[0]
    with tempfile.TemporaryDirectory(prefix="maaslike-demo-") as state_dir, \
            BackgroundServer(nodes, ServerOptions(state_dir=state_dir, port=0)) as server:
        preseed_url = f"{server.url}/MAAS/metadata/latest/by-id/{node.system_id}/?op=get_preseed"
        preseed = fetch_preseed(preseed_url)
        settings = source_config(preseed, preseed_url)
        md, stats = crawl(settings.metadata_url or "", settings.credentials,
                          timeout=settings.timeout, max_wait=10)
        vendordata = decode_vendordata(md.vendordata_raw)
        recorded = server.api.records[node.system_id].snapshot()
    result = {
        "server": server.url,
        "preseed-url": preseed_url,
        "metadata-url": settings.metadata_url,
        "instance-id": md.instance_id,
        "local-hostname": md.local_hostname,
        "public-keys": list(md.public_keys),
        "user-data-sha256": md.userdata_sha256,
        "vendor-data": vendordata,
        "requests": stats.requests,
        "seconds": round(stats.seconds, 4),
        "server-recorded": [e["kind"] for e in recorded["events"]],
    }
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
        return 0
    out = sys.stdout
    out.write(f"stand-in MAAS server   {server.url}\n")
    out.write(f"1. preseed             {preseed_url}\n")
    out.write(f"   datasource          {settings.origin} -> {settings.metadata_url}\n")
    out.write(f"2. crawl (OAuth)       {stats.requests} requests in {stats.seconds * 1000:.0f} ms\n")
    out.write(f"   instance-id         {md.instance_id}\n")
    out.write(f"   local-hostname      {md.local_hostname}\n")
    for key in md.public_keys:
        out.write(f"   public-key          {key[:60]}{'…' if len(key) > 60 else ''}\n")
    out.write(f"   user-data           {len(md.userdata_raw or b'')} bytes, sha256 {md.userdata_sha256}\n")
    out.write(f"   vendor-data         {vendordata!r}\n")
    kinds = [e["kind"] for e in recorded["events"]]
    out.write(f"3. server recorded     {', '.join(kinds) or 'nothing'}\n")
    return 0
