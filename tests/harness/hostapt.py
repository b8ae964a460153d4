"""The Debian mirrors this host's apt uses: the test images and cloud-init .debs come from them.

No mirror host is written into the project; the host's configuration
(``/etc/apt/sources.list`` and ``/etc/apt/sources.list.d``) says where the
archive is reachable from here.
"""

from __future__ import annotations

import functools
from typing import Tuple

from cloudinit_maaslike.aptsources import primary_mirror, read_sources, security_mirror


@functools.cache
def mirrors(root: str = "/") -> Tuple[str, str]:
    """(archive, security archive) of the host's apt configuration."""
    sources = read_sources(root)
    primary = primary_mirror(sources)
    if primary is None:
        raise SystemExit("the host's apt configuration names no Debian archive "
                         "(/etc/apt/sources.list, /etc/apt/sources.list.d/*.sources)")
    return primary, security_mirror(sources) or primary.rstrip("/") + "-security"
