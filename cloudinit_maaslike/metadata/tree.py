"""Where each item lives in a MAAS metadata tree.

cloud-init's MAAS datasource reads exactly these five paths under the
``2012-03-01`` version; MAAS also answers ``latest``.  A `metadata_url` that
already ends in a version is used as it is, and MAAS's deploy tree
(``…/MAAS/metadata/curtin``) is just another base, used as given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

MD_VERSION = "2012-03-01"
KNOWN_VERSIONS = ("2012-03-01", "latest")


@dataclass(frozen=True)
class Item:
    name: str  # the key in the metadata result and in JSON output
    path: str  # relative to the version directory
    required: bool


ITEMS: Tuple[Item, ...] = (
    Item("instance-id", "meta-data/instance-id", True),
    Item("local-hostname", "meta-data/local-hostname", True),
    Item("public-keys", "meta-data/public-keys", False),
    Item("vendor-data", "meta-data/vendor-data", False),
    Item("user-data", "user-data", False),
)


def version_base(metadata_url: str) -> str:
    """The URL of the version directory for `metadata_url`, without a slash."""
    base = metadata_url.rstrip("/")
    if base.rsplit("/", 1)[-1] in KNOWN_VERSIONS:
        return base
    return f"{base}/{MD_VERSION}"


def item_url(base: str, item: Item) -> str:
    return f"{base}/{item.path}"
