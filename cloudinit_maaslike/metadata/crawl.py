"""Crawl a MAAS metadata tree: all items at once, over HTTP or from files.

cloud-init's MAAS datasource polls instance-id, then reads each item one after
the other.  We start every item at once on its own thread sharing one
keep-alive client, so a healthy crawl costs one round trip (two when the
node's clock must first be corrected).  A fatal answer on any item ends the
crawl at once; the other threads are daemons and are abandoned.

The whole crawl ends by `max_wait` (plus at most a second): each request
is cut at the crawl's deadline, and should one still be in flight then (a
name lookup hanging, say), it is abandoned with an error naming its URL.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from typing import TYPE_CHECKING, Dict, Optional, Tuple

from ..clockskew import ServerClock
from ..dsconfig import DEFAULT_MAX_ITEM_SIZE, DEFAULT_REQUEST_DEADLINE
from ..errors import MaaslikeError, MetadataError, MetadataUnavailable
from ..oauth import Credentials, Signer
from .model import CrawlStats, Metadata
from .seed import metadata_from_items, read_tree
from .tree import ITEMS, item_url, version_base

if TYPE_CHECKING:
    from ..httpclient import HttpClient

LOG = logging.getLogger(__name__)

# How long past its deadline the crawl waits for a request's own error
# (a last attempt may start just before the deadline and run one timeout).
ABANDON_GRACE = 1.0


def _abandoned(pending: Dict[str, str], max_wait: float, request_deadline: float,
               elapsed: float) -> MetadataUnavailable:
    name, url = next(iter(pending.items()))
    limit = f"max_wait: {max_wait:g} s" if max_wait > 0 else f"request_deadline: {request_deadline:g} s"
    more = f" ({len(pending) - 1} more items also unanswered)" if len(pending) > 1 else ""
    return MetadataUnavailable(
        f"{name}: no complete answer from {url} in {elapsed:.1f} s ({limit}); abandoned{more}", url=url)


def crawl(
    metadata_url: str,
    credentials: Optional[Credentials] = None,
    *,
    timeout: float = 10.0,
    max_wait: float = 120.0,
    retries: Optional[int] = None,
    clock: Optional[ServerClock] = None,
    client: Optional[HttpClient] = None,
    request_deadline: float = DEFAULT_REQUEST_DEADLINE,
    max_item_size: int = DEFAULT_MAX_ITEM_SIZE,
) -> Tuple[Metadata, CrawlStats]:
    """Read every item of the tree at `metadata_url`.

    `timeout` bounds each read, `request_deadline` each whole answer,
    `max_wait` the whole crawl (retries included); `max_item_size` is the
    largest item accepted, in bytes.
    """
    started = time.monotonic()
    if metadata_url.startswith("file://"):
        # A seed directory (no version level) or a copied tree (with one).
        directory = metadata_url[len("file://"):].rstrip("/") or "/"
        if not os.path.isdir(os.path.join(directory, "meta-data")):
            directory = version_base(directory)
        md = metadata_from_items(read_tree(directory), f"file://{directory}")
        return md, CrawlStats(requests=0, seconds=time.monotonic() - started)
    base = version_base(metadata_url)

    from .fetch import Aborted, Fetcher, FetchSettings

    clock = clock or ServerClock()
    signer = Signer(credentials, clock) if credentials else None
    fetcher = Fetcher(signer, FetchSettings(timeout, max_wait, retries, request_deadline, max_item_size),
                      client=client)
    deadline = started + max_wait if max_wait > 0 else None
    # A single attempt (max_wait <= 0) is bounded by its own deadline.
    hard_stop = (deadline if deadline is not None else started + request_deadline) + ABANDON_GRACE
    results: queue.Queue[Tuple[str, Optional[bytes], Optional[BaseException]]] = queue.Queue()

    def worker(name: str, url: str, required: bool) -> None:
        try:
            results.put((name, fetcher.get(url, name, required, deadline), None))
        except Aborted:
            results.put((name, None, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            results.put((name, None, exc))

    for item in ITEMS:
        threading.Thread(
            target=worker,
            args=(item.name, item_url(base, item), item.required),
            name=f"crawl-{item.name}",
            daemon=True,
        ).start()

    items: Dict[str, Optional[bytes]] = {}
    pending = {item.name: item_url(base, item) for item in ITEMS}
    try:
        while pending:
            try:
                name, body, error = results.get(timeout=max(hard_stop - time.monotonic(), 0.0))
            except queue.Empty:
                raise _abandoned(pending, max_wait, request_deadline, time.monotonic() - started) from None
            pending.pop(name, None)
            if error is not None:
                if isinstance(error, MaaslikeError):
                    raise error
                raise MetadataError(f"{name}: {type(error).__name__}: {error}", url=base) from error
            items[name] = body
    finally:
        fetcher.abort.set()
        if client is None:
            fetcher.client.close()
    md = metadata_from_items(items, base)
    from urllib.parse import urlsplit

    stats = CrawlStats(
        requests=fetcher.requests,
        seconds=time.monotonic() - started,
        clock_offset=clock.offset(urlsplit(base).netloc),
    )
    LOG.info(
        "crawled %s: instance-id %s, %d requests in %.3f s",
        base, md.instance_id, stats.requests, stats.seconds,
    )
    return md, stats
