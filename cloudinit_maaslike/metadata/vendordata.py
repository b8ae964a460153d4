"""Decode vendor-data the way cloud-init's MAAS datasource does.

MAAS serves ``meta-data/vendor-data`` as YAML, typically
``cloud-init: "#cloud-config\n…"``.  cloud-init YAML-loads it and then keeps a
string or a list as is and takes a dict's ``cloud-init`` key; a dict there is
refused (cloud-init warns and drops it).  YAML is imported only when there is
vendor-data, because most boots have none and the import costs ~15 ms.
"""

from __future__ import annotations

import logging
from typing import Any, List, Optional, Union

from ..errors import MetadataError

LOG = logging.getLogger(__name__)

VendorData = Union[str, List[Any], None]


def decode_vendordata(raw: Optional[bytes], where: str = "vendor-data") -> VendorData:
    if raw is None or not raw.strip():
        return None
    from ..config.bounded import DocumentError, load_yaml

    try:  # from the network: bounded in size, depth and alias expansion
        loaded: Any = load_yaml(raw, where)
    except DocumentError as exc:
        at = f" at {exc.path}" if exc.path.startswith("line") else ""
        raise MetadataError(f"{where}: vendor-data is not usable YAML{at}: {exc.problem}", url=where) from None
    if isinstance(loaded, dict):
        loaded = loaded.get("cloud-init")
    if not loaded:
        return None
    if isinstance(loaded, (str, list)):
        return loaded
    LOG.warning("%s: ignoring vendor-data of type %s (cloud-init takes a string or a list)",
                where, type(loaded).__name__)
    return None
