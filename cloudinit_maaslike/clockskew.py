"""The metadata server's clock, as far as OAuth timestamps are concerned.

MAAS refuses a request whose OAuth timestamp is more than 300 s in the past,
and answers 401 with a `Date` header.  A freshly booted node often has a wrong
clock, so we learn the server's time from that header and sign later requests
with it.  Two mistakes cloud-init makes are avoided here:

* the `Date` header is GMT and is converted with `parsedate_to_datetime`
  (never `time.mktime`, which reads it as local time and is off by the host's
  UTC offset);
* the learned time is anchored to the monotonic clock, not stored as an
  offset from the wall clock, so an NTP step after we learned it does not
  corrupt it.

What we learn is persisted (atomically, 0600) so that later processes of the
same boot (reporting, the installer) start with the right timestamps.  The
file records the boot id: within the same boot the monotonic anchor is used,
across boots only the wall-clock offset, which is a best guess that a new 401
corrects.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Callable, Dict, Optional

from .privatefile import write_private

LOG = logging.getLogger(__name__)

# A server `Date` this far from the timestamp we sent can explain a 401.
# Below it, skew is not the cause (Date has 1 s resolution, plus latency).
SKEW_TOLERANCE = 5.0

_BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"


def read_boot_id(path: str = _BOOT_ID_PATH) -> str:
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def parse_http_date(value: str) -> Optional[float]:
    """Seconds since the epoch for an HTTP `Date` value, read as UTC."""
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:  # RFC 850 / asctime forms carry no zone: GMT.
        import datetime

        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.timestamp()


@dataclass(frozen=True)
class Anchor:
    """The server's epoch time at one instant of our monotonic clock."""

    server_epoch: float
    monotonic: float
    wall: float  # our wall clock at the same instant, for other boots

    def server_now(self, monotonic_now: float) -> float:
        return self.server_epoch + (monotonic_now - self.monotonic)

    @property
    def offset(self) -> float:
        return self.server_epoch - self.wall


class ServerClock:
    """Per-server (host:port) time estimates, shared by all threads of a crawl."""

    def __init__(
        self,
        skew_file: Optional[str] = None,
        *,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        boot_id: Optional[str] = None,
    ):
        self.skew_file = skew_file
        self._wall = wall
        self._monotonic = monotonic
        self._boot_id = read_boot_id() if boot_id is None else boot_id
        self._lock = threading.Lock()
        self._anchors: Dict[str, Anchor] = {}
        if skew_file:
            self._load(skew_file)

    def server_time(self, netloc: str) -> float:
        """Our best estimate of the server's epoch time now."""
        with self._lock:
            anchor = self._anchors.get(netloc)
        if anchor is None:
            return self._wall()
        return anchor.server_now(self._monotonic())

    def timestamp(self, netloc: str) -> int:
        return int(self.server_time(netloc))

    def offset(self, netloc: str) -> float:
        """Server time minus our wall clock, for reports and tests."""
        return self.server_time(netloc) - self._wall()

    def learn(self, netloc: str, date_header: Optional[str], sent_timestamp: float) -> bool:
        """Learn the server's time from a refusal's `Date` header.

        Returns True when skew explains the refusal: the server's time differs
        from the timestamp we sent by more than `SKEW_TOLERANCE`.  Only then is
        a retry with the corrected timestamp worth making.
        """
        if not date_header:
            return False
        server_epoch = parse_http_date(date_header)
        if server_epoch is None:
            LOG.debug("ignoring unparsable Date header from %s", netloc)
            return False
        if abs(server_epoch - sent_timestamp) <= SKEW_TOLERANCE:
            return False
        # Date is truncated to the second: the mid-point is the better guess.
        anchor = Anchor(server_epoch + 0.5, self._monotonic(), self._wall())
        with self._lock:
            self._anchors[netloc] = anchor
        LOG.info(
            "clock skew: %s is %+.0f s from this host; signing with its time",
            netloc,
            anchor.offset,
        )
        if self.skew_file:
            self._save(self.skew_file)
        return True

    def _load(self, path: str) -> None:
        try:
            with open(path, encoding="utf-8") as handle:
                data = json.load(handle)
            servers = data["servers"]
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError) as exc:
            LOG.warning("ignoring unreadable clock-skew file %s: %s", path, exc)
            return
        now_mono, now_wall = self._monotonic(), self._wall()
        for netloc, entry in servers.items():
            try:
                if self._boot_id and entry.get("boot_id") == self._boot_id:
                    anchor = Anchor(
                        float(entry["server_epoch"]),
                        float(entry["monotonic"]),
                        float(entry["wall"]),
                    )
                else:
                    offset = float(entry["server_epoch"]) - float(entry["wall"])
                    anchor = Anchor(now_wall + offset, now_mono, now_wall)
            except (KeyError, TypeError, ValueError, AttributeError):
                continue
            self._anchors[netloc] = anchor

    def _save(self, path: str) -> None:
        with self._lock:
            servers = {
                netloc: {
                    "server_epoch": a.server_epoch,
                    "monotonic": a.monotonic,
                    "wall": a.wall,
                    "offset": round(a.offset, 3),
                    "boot_id": self._boot_id,
                }
                for netloc, a in self._anchors.items()
            }
        try:
            write_private(path, json.dumps({"version": 1, "servers": servers}, indent=1))
        except OSError as exc:
            LOG.warning("could not save clock skew to %s: %s", path, exc)


def default_skew_file() -> str:
    """Where the skew is kept when the config names no path.

    /run is per boot and root-only writable; unprivileged runs (a user trying
    `maaslike crawl`) keep theirs in their runtime directory.
    """
    if os.geteuid() == 0:
        return "/run/cloudinit-maaslike/oauth-skew.json"
    base = os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/cloudinit-maaslike-{os.geteuid()}"
    return os.path.join(base, "cloudinit-maaslike", "oauth-skew.json")
