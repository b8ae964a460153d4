"""The install source a node's curtin command ends with, as MAAS writes it.

MAAS passes the image as the last argument of ``curtin install``: ``cp:///
media/root-ro`` for the ephemeral squashfs it booted, a plain URL for a
tarball, or ``<type>:<url>`` for disk images (``dd-tgz:http://…``).  An
inventory may also name a file the server itself serves, as ``/images/…``
(optionally after a type prefix); it becomes an absolute URL on this server,
so the inventory does not have to know the address nodes use.
"""

from __future__ import annotations

from typing import Optional, Tuple

DEFAULT_SOURCE = "cp:///media/root-ro"
# curtin's source type prefixes (curtin/util.py sanitize_source).
SOURCE_TYPES = (
    "tgz", "tbz", "txz", "dd-tgz", "dd-tbz", "dd-txz", "dd-tar", "dd-bz2", "dd-gz", "dd-xz",
    "dd-raw", "fsimage", "fsimage-layered",
)
_SCHEMES = ("http://", "https://", "file://", "cp://", "squashfs://", "ftp://")
IMAGES_PATH = "/images/"


def split_source(source: str) -> Tuple[str, str]:
    """(type prefix or "", location)."""
    head, sep, rest = source.partition(":")
    if sep and head in SOURCE_TYPES:
        return head, rest
    return "", source


def source_problem(source: str) -> Optional[str]:
    """Why `source` is not an install source curtin accepts, or None."""
    kind, location = split_source(source)
    if location.startswith(_SCHEMES) or location.startswith(IMAGES_PATH):
        return None
    if location.startswith("/") and kind:
        return None  # a typed local path on the node, e.g. dd-raw:/dev/…
    return (f"expected a URL ({', '.join(s.rstrip('/') for s in _SCHEMES)}), "
            f"{IMAGES_PATH}… on this server, or <type>:<url> with type one of "
            f"{', '.join(SOURCE_TYPES)}; got {source!r}")


def resolve_source(source: str, server_url: str) -> str:
    """The source as the node must see it: server-relative images made absolute."""
    if not source:
        return DEFAULT_SOURCE
    kind, location = split_source(source)
    if location.startswith(IMAGES_PATH):
        location = server_url.rstrip("/") + location
        return f"{kind}:{location}" if kind else location
    return source
