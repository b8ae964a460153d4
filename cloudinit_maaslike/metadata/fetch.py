"""GET one item from a metadata server: signed, retried, bounded in time.

The rules an operator can rely on:

* every attempt has a per-read timeout (`timeout`) and a deadline for the
  whole answer (`request_deadline`), so neither a silent server nor one that
  drips a byte now and then can hang a boot, and all attempts together end
  by the crawl's deadline (`max_wait`; a last attempt started just before it
  is given one `timeout`, at least 0.5 s);
* a body larger than `max_bytes` ends the crawl at once with an error naming
  the URL and the limit, however the server sends it (Content-Length, chunks
  or an endless stream): it is never read into memory past the limit;
* connection errors, resets, timeouts, 5xx, 408 and 429 are retried with
  exponential backoff and jitter (honouring `Retry-After`), at most `retries`
  times when that is set;
* a 404 is final at once: None for an optional item, an error for a required
  one;
* a 401/403 whose `Date` shows our clock is off is retried once, at once,
  with the server's time; any other refusal is final at once.

Nothing here logs a request header: the Authorization header carries the
token secret in clear under PLAINTEXT.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, Optional
from urllib.parse import urlsplit

from ..errors import MetadataAuthError, MetadataError, MetadataNotFound, MetadataUnavailable
from ..httpclient import HttpClient, HttpResponse, TooLarge, TransportError
from ..oauth import Signer
from ..redact import redact_text

LOG = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 429}) | frozenset(range(500, 600))
BACKOFF_BASE = 0.25
BACKOFF_CAP = 8.0
LAST_TRY = 0.5  # seconds a last attempt gets at least, even at the crawl's deadline


@dataclass(frozen=True)
class FetchSettings:
    timeout: float = 10.0
    max_wait: float = 120.0
    retries: Optional[int] = None  # None: as many as max_wait allows
    request_deadline: Optional[float] = None  # seconds for one whole answer; None: no limit
    max_bytes: Optional[int] = None  # the largest body accepted; None: no limit


def size_text(count: int) -> str:
    """`67108864` -> ``64 MiB``; exact sizes stay exact."""
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if count >= 1 << shift and count % (1 << shift) == 0:
            return f"{count >> shift} {unit}"
    return f"{count} bytes"


class Aborted(Exception):
    """Another item of the same crawl failed; stop retrying this one."""


def backoff_delay(attempt: int) -> float:
    """Exponential backoff with jitter: half fixed, half random."""
    ceiling: float = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** (attempt - 1)))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def _retry_after(response: HttpResponse) -> Optional[float]:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _server_says(response: HttpResponse, secrets: Iterable[str]) -> str:
    text = response.text.strip().splitlines()
    first = text[0][:200] if text else ""
    return redact_text(first, secrets)


class Fetcher:
    """Fetches URLs of one crawl; counts requests for the crawl's report."""

    def __init__(
        self,
        signer: Optional[Signer],
        settings: FetchSettings,
        client: Optional[HttpClient] = None,
        abort: Optional[threading.Event] = None,
        sleep: Optional[Callable[[float], Optional[bool]]] = None,
    ):
        self.signer = signer
        self.settings = settings
        self.client = client or new_client()
        self.abort = abort or threading.Event()
        self._sleep = sleep or self.abort.wait
        self._lock = threading.Lock()
        self.requests = 0
        self._secrets = signer.credentials.secrets if signer else ()

    def _count(self) -> None:
        with self._lock:
            self.requests += 1

    def get(self, url: str, name: str, required: bool, deadline: Optional[float]) -> Optional[bytes]:
        """The item's body, None for a missing optional item.

        `deadline` is a `time.monotonic()` instant shared by the whole crawl;
        None means a single attempt (max_wait <= 0).
        """
        settings = self.settings
        netloc = urlsplit(url).netloc
        attempt = 0
        skew_retried = False
        last = ""
        started = time.monotonic()
        while True:
            if self.abort.is_set():
                raise Aborted()
            headers = {}
            sent_ts = 0.0
            if self.signer is not None:
                headers["Authorization"], sent_ts = self.signer.sign(url)
            now = time.monotonic()
            timeout = settings.timeout
            if deadline is not None:
                timeout = min(timeout, max(deadline - now, LAST_TRY))
            limits: Dict[str, Any] = {}
            if settings.request_deadline is not None:
                budget = settings.request_deadline
                if deadline is not None:
                    # Cut at the crawl's deadline too, but let a silent server's read
                    # timeout fire first, so that is the reason given.
                    budget = min(budget, max(deadline - now, timeout + 0.1))
                limits["deadline"] = now + budget
            if settings.max_bytes is not None:
                limits["max_bytes"] = settings.max_bytes
            self._count()
            response: Optional[HttpResponse]
            try:
                response = self.client.request("GET", url, headers=headers, timeout=timeout, **limits)
            except TooLarge as exc:
                raise MetadataError(
                    f"{name}: the answer from {url} is larger than the {size_text(exc.limit)} limit"
                    " (max_item_size)",
                    url=url,
                ) from None
            except TransportError as exc:
                last = exc.reason
                response = None
            if response is not None:
                status = response.status
                LOG.debug("GET %s -> %d (%d bytes)", url, status, len(response.body))
                if 200 <= status < 300:
                    return response.body
                if status == 404:
                    if required:
                        raise MetadataNotFound(
                            f"{name}: not found (HTTP 404) at {url}; is the node known to the"
                            " server and is metadata_url right?",
                            url=url,
                            status=404,
                        )
                    return None
                if status in (401, 403):
                    if (
                        self.signer is not None
                        and not skew_retried
                        and self.signer.clock.learn(netloc, response.headers.get("Date"), sent_ts)
                    ):
                        skew_retried = True
                        continue
                    said = _server_says(response, self._secrets)
                    raise MetadataAuthError(
                        f"{name}: authorization refused (HTTP {status}"
                        + (f": {said}" if said else "")
                        + f") at {url}; check the node's consumer_key, token_key and token_secret",
                        url=url,
                        status=status,
                    )
                if status not in RETRYABLE_STATUS:
                    said = _server_says(response, self._secrets)
                    raise MetadataError(
                        f"{name}: unexpected HTTP {status}" + (f" ({said})" if said else "") + f" at {url}",
                        url=url,
                        status=status,
                    )
                last = f"HTTP {status}"
            attempt += 1
            elapsed = time.monotonic() - started
            if settings.retries is not None and attempt > settings.retries:
                raise MetadataUnavailable(
                    f"{name}: {last} at {url}; gave up after {attempt} attempt{'s' if attempt > 1 else ''}"
                    f" in {elapsed:.1f} s (retries: {settings.retries})",
                    url=url,
                    status=response.status if response is not None else None,
                )
            delay = backoff_delay(attempt)
            if response is not None:
                hinted = _retry_after(response)
                if hinted is not None:
                    delay = max(delay, hinted)
            remaining = deadline - time.monotonic() if deadline is not None else 0.0
            if remaining <= 0.05:
                raise MetadataUnavailable(
                    f"{name}: {last} at {url}; gave up after {attempt} attempt{'s' if attempt > 1 else ''}"
                    f" in {elapsed:.1f} s (max_wait: {settings.max_wait:g} s)",
                    url=url,
                    status=response.status if response is not None else None,
                )
            delay = min(delay, remaining - 0.05)  # a last try at the deadline, not before it
            LOG.debug("%s: %s; retry %d in %.2f s", url, last, attempt, delay)
            if self._sleep(delay):
                raise Aborted()


def new_client() -> HttpClient:
    """One keep-alive client per crawl: every item's thread reuses its connection."""
    from .. import __version__

    return HttpClient(user_agent=f"cloudinit-maaslike/{__version__}")
