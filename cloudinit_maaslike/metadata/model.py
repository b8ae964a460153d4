"""What a crawl yields, independent of where it came from."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple


@dataclass(frozen=True)
class Metadata:
    instance_id: str
    local_hostname: str
    public_keys: Tuple[str, ...] = ()
    userdata_raw: Optional[bytes] = field(default=None, repr=False)
    vendordata_raw: Optional[bytes] = field(default=None, repr=False)
    source: str = ""  # the tree URL or seed directory it was read from

    @property
    def userdata_sha256(self) -> Optional[str]:
        if self.userdata_raw is None:
            return None
        return hashlib.sha256(self.userdata_raw).hexdigest()

    def as_cloudinit_metadata(self) -> Dict[str, Any]:
        """The `metadata` dict cloud-init's DataSource base class reads."""
        return {
            "instance-id": self.instance_id,
            "local-hostname": self.local_hostname,
            "public-keys": list(self.public_keys),
        }


@dataclass(frozen=True)
class CrawlStats:
    requests: int
    seconds: float
    clock_offset: float = 0.0


def split_public_keys(raw: Optional[bytes]) -> Tuple[str, ...]:
    """MAAS joins keys with newlines; blank lines and comments are dropped."""
    if not raw:
        return ()
    text = raw.decode("utf-8", errors="replace")
    return tuple(
        line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    )
