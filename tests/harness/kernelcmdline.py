"""The kernel command line MAAS gives an ephemeral boot (reference/maas.md §4).

MAAS's order: ``nomodeset``, ``root=squash:<url>``, ``ip=::::<hostname>:BOOTIF
ip6=off``, ``cc:{…}end_cc``, ``cloud-config-url=<preseed url>``, ``ro
overlayroot=tmpfs overlayroot_cfgdisk=disabled``, log host, then the
architecture's and the operator's options; PXELINUX appends ``BOOTIF=``.

Two departures, both deliberate: no ``cc:{'datasource_list': ['MAAS']}end_cc``
(it would override our ``datasource_list: [ MAASLike ]``), and the
datasource is named on the command line as the image's cloud-init reads it:
``ci.ds=`` for 22.x (Debian 12), ``ds=`` from 23 on (cloudinit.md §6).
"""

from __future__ import annotations

from typing import List, Sequence


def preseed_url(server: str, system_id: str) -> str:
    return f"{server.rstrip('/')}/MAAS/metadata/latest/by-id/{system_id}/?op=get_preseed"


def datasource_option(cloudinit_major: int, name: str = "MAASLike") -> str:
    return f"ci.ds={name}" if cloudinit_major < 23 else f"ds={name}"


def ephemeral_cmdline(server: str, system_id: str, hostname: str, squashfs_url: str, bootif: str,
                      cloudinit_major: int = 22, extra: Sequence[str] = ("console=ttyS0",)) -> str:
    """`server` is the metadata server's base URL as the node reaches it."""
    options: List[str] = [
        "nomodeset",
        f"root=squash:{squashfs_url}",
        f"ip=::::{hostname}:BOOTIF",
        "ip6=off",
        datasource_option(cloudinit_major),
        f"cloud-config-url={preseed_url(server, system_id)}",
        "ro",
        "overlayroot=tmpfs",
        "overlayroot_cfgdisk=disabled",
        *extra,
        f"BOOTIF={bootif}",
    ]
    return " ".join(options)
