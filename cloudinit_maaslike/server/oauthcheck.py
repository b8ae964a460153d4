"""Verify OAuth 1.0 requests the way MAAS (django-piston) does.

A request counts as signed only when all six OAuth parameters are present;
anything less is "anonymous" and gets MAAS's enlistment answers where MAAS
has them.  A signed request is checked in piston's order: version, consumer,
token, timestamp (more than 300 s in the past is refused; the future is not),
nonce replay, then the signature.  Every refusal is a `Refusal` whose text
becomes ``Authorization Error: '<why>'`` in a 401.  The reason never contains
a secret: a wrong PLAINTEXT signature *is* a secret, so it is not echoed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Protocol, Tuple
from urllib.parse import unquote

REQUIRED_PARAMS = (
    "oauth_consumer_key",
    "oauth_token",
    "oauth_signature",
    "oauth_signature_method",
    "oauth_timestamp",
    "oauth_nonce",
)
TIMESTAMP_THRESHOLD = 300


class Refusal(Exception):
    """The request carried OAuth, and it is not acceptable."""


@dataclass(frozen=True)
class TokenSecrets:
    """What the server knows about one token (one node)."""

    consumer_key: str
    token_key: str
    token_secret: str
    consumer_secret: str = ""
    owner: str = ""  # the system_id the token belongs to


def parse_authorization(header: str) -> Dict[str, str]:
    """OAuth parameters from an `Authorization: OAuth …` header (piston's rules)."""
    header = header.strip()
    if header[:6].lower() == "oauth ":
        header = header[6:]
    params: Dict[str, str] = {}
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        key = key.strip()
        if key.lower() == "realm":
            continue
        value = value.strip().strip('"')
        params[key] = unquote(value) if "%" in value else value
    return params


def token_key_from_header(header: str) -> Optional[str]:
    """The `oauth_token` of a header, without verifying anything.

    MAAS's status endpoint identifies the node from this alone.
    """
    return parse_authorization(header).get("oauth_token") or None


def is_signed(params: Dict[str, str]) -> bool:
    return all(params.get(name) for name in REQUIRED_PARAMS)


class NonceRegistry:
    """Nonces seen in the last threshold window, per (consumer, token)."""

    def __init__(self, clock: Callable[[], float], window: float = TIMESTAMP_THRESHOLD * 2):
        self._clock = clock
        self._window = window
        self._seen: Dict[Tuple[str, str, str], float] = {}
        self._lock = threading.Lock()
        self._next_purge = 0.0

    def check_and_add(self, consumer: str, token: str, nonce: str) -> bool:
        """True if the nonce is new (and now remembered), False on a replay."""
        now = self._clock()
        key = (consumer, token, nonce)
        with self._lock:
            if now >= self._next_purge:
                cutoff = now - self._window
                self._seen = {k: t for k, t in self._seen.items() if t >= cutoff}
                self._next_purge = now + 30
            if key in self._seen:
                return False
            self._seen[key] = now
            return True


class TokenStore(Protocol):
    def by_token(self, token_key: str) -> Optional[TokenSecrets]: ...

    def has_consumer(self, consumer_key: str) -> bool: ...


class Verifier:
    def __init__(self, store: TokenStore, clock: Callable[[], float] = time.time):
        self._store = store
        self._clock = clock
        self.nonces = NonceRegistry(clock)

    def verify(
        self,
        params: Dict[str, str],
        http_method: str,
        url: str,
        query: str = "",
        body: Optional[bytes] = None,
        content_type: str = "",
    ) -> TokenSecrets:
        """The token a signed request proves, or `Refusal`."""
        version = params.get("oauth_version")
        if version is not None and version != "1.0":
            raise Refusal(f"OAuth version {version} not supported.")
        if not self._store.has_consumer(params["oauth_consumer_key"]):
            raise Refusal("Invalid API key.")
        token = self._store.by_token(params["oauth_token"])
        if token is None or token.consumer_key != params["oauth_consumer_key"]:
            raise Refusal(f"Invalid access token: {params['oauth_token']}")
        try:
            timestamp = int(params["oauth_timestamp"])
        except ValueError:
            raise Refusal("Invalid timestamp.") from None
        now = int(self._clock())
        if now - timestamp > TIMESTAMP_THRESHOLD:
            raise Refusal(
                f"Expired timestamp: given {timestamp} and now {now} has a greater"
                f" difference than threshold {TIMESTAMP_THRESHOLD}"
            )
        if not self.nonces.check_and_add(token.consumer_key, token.token_key, params["oauth_nonce"]):
            raise Refusal("Nonce already used")
        method = params["oauth_signature_method"]
        if method == "PLAINTEXT":
            expected = f"{_escape(token.consumer_secret)}&{_escape(token.token_secret)}"
            if not hmac.compare_digest(params["oauth_signature"].encode(), expected.encode()):
                raise Refusal("Invalid signature.")
        elif method == "HMAC-SHA1":
            try:
                signed = _hmac_sha1_ok(params, token, http_method, url, query, body, content_type)
            except ValueError:  # oauthlib cannot read the query: it was not signed as sent
                signed = False
            if not signed:
                raise Refusal("Invalid signature.")
        else:
            raise Refusal(f"Signature method {method} not supported.")
        return token


def _escape(value: str) -> str:
    from oauthlib.common import quote

    return str(quote(value, safe=b"~"))


def _hmac_sha1_ok(
    params: Dict[str, str],
    token: TokenSecrets,
    http_method: str,
    url: str,
    query: str,
    body: Optional[bytes],
    content_type: str,
) -> bool:
    from oauthlib.oauth1.rfc5849 import signature

    collected: List[Tuple[str, str]] = [
        (k, v) for k, v in params.items() if k != "oauth_signature"
    ]
    if query:
        collected += signature.collect_parameters(uri_query=query, exclude_oauth_signature=True)
    if body and content_type.startswith("application/x-www-form-urlencoded"):
        collected += signature.collect_parameters(body=body.decode("utf-8", "replace"),
                                                  exclude_oauth_signature=True)
    base = signature.signature_base_string(
        http_method.upper(),
        signature.base_string_uri(url.split("?", 1)[0]),
        signature.normalize_parameters(collected),
    )
    key = f"{_escape(token.consumer_secret)}&{_escape(token.token_secret)}"
    digest = hmac.new(key.encode("utf-8"), base.encode("utf-8"), hashlib.sha1).digest()
    expected = base64.b64encode(digest).decode("ascii")
    return hmac.compare_digest(expected.encode(), params["oauth_signature"].encode())
