"""OAuth 1.0 request signing, as MAAS's metadata service expects it.

MAAS gives each node a consumer key, a token key and a token secret; the
consumer secret is empty and the signature method is PLAINTEXT, so the
"signature" is ``&<token_secret>`` in clear (use HTTPS where that matters).
HMAC-SHA1 is available for servers that want it.  Timestamps come from a
`ServerClock`, so a node with a wrong clock signs with the server's time once
it has learned it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Dict, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from .clockskew import ServerClock
from .errors import ConfigError

PLAINTEXT = "PLAINTEXT"
HMAC_SHA1 = "HMAC-SHA1"
SIGNATURE_METHODS = (PLAINTEXT, HMAC_SHA1)

CREDENTIAL_KEYS = ("consumer_key", "token_key", "token_secret")


@dataclass(frozen=True)
class Credentials:
    consumer_key: str
    token_key: str
    token_secret: str = field(repr=False)
    consumer_secret: str = field(default="", repr=False)

    def identity(self) -> str:
        """cloud-init's instance identity for these credentials.

        The same value as cloud-init's MAAS datasource computes, so a reboot
        with unchanged credentials is recognised without the network.
        """
        joined = "\0".join((self.consumer_key, self.token_key, self.token_secret))
        return "v1:" + hashlib.sha256(joined.encode("utf-8")).hexdigest()

    @property
    def secrets(self) -> Tuple[str, ...]:
        return tuple(s for s in (self.token_secret, self.consumer_secret) if s)


def credentials_from(cfg: Mapping[str, Any], where: str) -> Optional[Credentials]:
    """Credentials from a datasource/reporting mapping, or None if it has none.

    Some but not all of the three keys is a configuration mistake that would
    otherwise show up as a puzzling 401, so it is refused here, naming the keys.
    """
    present = {k: cfg.get(k) for k in CREDENTIAL_KEYS if cfg.get(k) not in (None, "")}
    secret = cfg.get("consumer_secret")
    if not present:
        if secret not in (None, ""):
            raise ConfigError(
                f"{where}.consumer_secret",
                "set without consumer_key, token_key and token_secret",
            )
        return None
    missing = [k for k in CREDENTIAL_KEYS if k not in present]
    if missing:
        raise ConfigError(
            f"{where}.{missing[0]}",
            "missing; OAuth needs all of consumer_key, token_key and token_secret"
            f" (missing: {', '.join(missing)})",
        )
    for key in (*CREDENTIAL_KEYS, "consumer_secret"):
        value = cfg.get(key)
        if value is not None and not isinstance(value, (str, int)):
            raise ConfigError(f"{where}.{key}", f"expected a string, got {type(value).__name__}")
    return Credentials(
        consumer_key=str(present["consumer_key"]),
        token_key=str(present["token_key"]),
        token_secret=str(present["token_secret"]),
        consumer_secret="" if secret is None else str(secret),
    )


class Signer:
    """Produces `Authorization` headers; one per attempt (fresh nonce each time)."""

    def __init__(
        self,
        credentials: Credentials,
        clock: Optional[ServerClock] = None,
        method: str = PLAINTEXT,
    ):
        if method not in SIGNATURE_METHODS:
            raise ConfigError("signature_method", f"unsupported {method!r}; use PLAINTEXT or HMAC-SHA1")
        self.credentials = credentials
        self.clock = clock or ServerClock()
        self.method = method

    def sign(
        self,
        url: str,
        http_method: str = "GET",
        body: Optional[Any] = None,
        headers: Optional[Dict[str, str]] = None,
    ) -> Tuple[str, int]:
        """Return (authorization header value, timestamp used)."""
        # Imported here: cloud-init imports the datasource on every boot, and
        # only a crawl that actually signs should pay for oauthlib.
        from oauthlib import oauth1

        timestamp = self.clock.timestamp(urlsplit(url).netloc)
        creds = self.credentials
        client = oauth1.Client(
            creds.consumer_key,
            client_secret=creds.consumer_secret,
            resource_owner_key=creds.token_key,
            resource_owner_secret=creds.token_secret,
            signature_method=self.method,
            timestamp=str(timestamp),
        )
        _, signed, _ = client.sign(url, http_method, body=body, headers=headers)
        return str(signed["Authorization"]), timestamp
