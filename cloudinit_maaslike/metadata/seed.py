"""Local seeds: a directory in the MAAS layout, or a `file://` metadata tree.

A seed directory holds ``meta-data/{instance-id,local-hostname,public-keys,
vendor-data}`` and ``user-data`` with no version level, the layout cloud-init
reads from ``/var/lib/cloud/seed/maas``.  `maaslike crawl --output` writes the
same layout, so a crawl can be replayed on a node with no network.
"""

from __future__ import annotations

import os
import stat
from typing import Dict, Optional

from ..errors import ConfigError, SeedError
from ..privatefile import make_private_dir, write_private
from .model import Metadata, split_public_keys
from .tree import ITEMS


def read_tree(directory: str, where: Optional[str] = None) -> Dict[str, Optional[bytes]]:
    """Raw bytes of each item under `directory`; a missing file is None."""
    where = where or directory
    found: Dict[str, Optional[bytes]] = {}
    for item in ITEMS:
        path = os.path.join(directory, item.path)
        try:
            with open(path, "rb") as handle:
                found[item.name] = handle.read()
        except FileNotFoundError:
            found[item.name] = None
        except OSError as exc:
            raise SeedError(f"{where}: cannot read {item.path}: {exc.strerror}", url=path) from None
    return found


def metadata_from_items(items: Dict[str, Optional[bytes]], source: str) -> Metadata:
    missing = [i.path for i in ITEMS if i.required and items.get(i.name) is None]
    if missing:
        raise SeedError(f"{source}: missing required {', '.join(missing)}", url=source)
    return Metadata(
        instance_id=_text(items["instance-id"]),
        local_hostname=_text(items["local-hostname"]),
        public_keys=split_public_keys(items.get("public-keys")),
        userdata_raw=items.get("user-data"),
        vendordata_raw=items.get("vendor-data"),
        source=source,
    )


def _text(raw: Optional[bytes]) -> str:
    return (raw or b"").decode("utf-8", errors="replace").strip()


def has_seed(directory: str) -> bool:
    """A seed counts as present when the directory exists and is not empty."""
    try:
        return bool(os.listdir(directory))
    except OSError:
        return False


def read_seed(directory: str) -> Optional[Metadata]:
    """The seed's metadata, None when there is no seed, SeedError when broken."""
    if directory.startswith("file://"):
        directory = directory[len("file://"):]
    if not has_seed(directory):
        return None
    return metadata_from_items(read_tree(directory), f"seed-dir {directory}")


def _fresh_seed_dir(directory: str) -> None:
    """Create `directory` 0700, or accept it when it is an empty real directory.

    A seed is read whole: merged into a directory holding other files it would
    mix with them, and through a link it would land (and be chmodded) elsewhere.
    """
    try:
        info = os.lstat(directory)
    except FileNotFoundError:
        parent = os.path.dirname(os.path.abspath(directory))
        make_private_dir(parent)
        os.mkdir(directory, 0o700)
        return
    if stat.S_ISLNK(info.st_mode):
        raise ConfigError("--output", f"{directory} is a symbolic link; give a real directory")
    if not stat.S_ISDIR(info.st_mode):
        raise ConfigError("--output", f"{directory} exists and is not a directory")
    if os.listdir(directory):
        raise ConfigError("--output", f"{directory} is not empty; give an empty or new directory")
    if info.st_uid == os.geteuid():
        os.chmod(directory, 0o700)


def write_seed(directory: str, md: Metadata) -> None:
    """Write `md` as a seed into a new or empty directory: directories 0700, files 0600."""
    _fresh_seed_dir(directory)
    values = {
        "instance-id": md.instance_id.encode(),
        "local-hostname": md.local_hostname.encode(),
        "public-keys": "".join(k + "\n" for k in md.public_keys).encode(),
        "vendor-data": md.vendordata_raw,
        "user-data": md.userdata_raw,
    }
    for item in ITEMS:
        data = values[item.name]
        path = os.path.join(directory, item.path)
        if data is None:
            continue
        write_private(path, data)
