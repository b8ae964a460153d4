"""Keep secrets out of logs, events, error reports and saved configs.

Two tools: `redact_text` replaces known secret values wherever they appear in
free text (a server's error body, a command line), and `redact_config` walks a
config structure and blanks values under secret-looking keys, including the
`maas-metadata-credentials` line MAAS puts into debconf selections.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

REDACTED = "<redacted>"

# Keys whose values are secrets wherever they appear in a config tree.
SECRET_KEYS = frozenset(
    {
        "token_secret",
        "consumer_secret",
        "oauth_token_secret",
        "oauth_consumer_secret",
        "oauth_signature",
        "password",
        "passwd",
        "key",  # dm_crypt keys in storage configs
        "keyfile",
        "authorization",
    }
)

_OAUTH_SECRET_RE = re.compile(
    r"(oauth_(?:token_secret|consumer_secret|signature)\s*=\s*\"?)([^\"&,\s]*)"
)
_CREDENTIALS_LINE_RE = re.compile(r"(maas-metadata-credentials\s+string\s+)(\S+)")
# `token_secret: X` / `"token_secret": "X"` / `token_secret=X` inside text (e.g. a
# cloudconfig file's content, or a command line).
_KEYED_SECRET_RE = re.compile(
    r"((?:token_secret|consumer_secret|password)[\"']?\s*[:=]\s*[\"']?)([^\"'\s,&}]+)",
    re.IGNORECASE,
)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Return `text` with every known secret value and OAuth secret field hidden."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _OAUTH_SECRET_RE.sub(lambda m: m.group(1) + REDACTED, text)
    text = _KEYED_SECRET_RE.sub(
        lambda m: m.group(0) if m.group(2) == REDACTED else m.group(1) + REDACTED, text)
    return _CREDENTIALS_LINE_RE.sub(lambda m: m.group(1) + REDACTED, text)


def redact_config(value: Any) -> Any:
    """Return a copy of a config tree with secret values replaced."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if isinstance(key, str) and key.lower() in SECRET_KEYS and item not in (None, ""):
                out[key] = REDACTED
            else:
                out[key] = redact_config(item)
        return out
    if isinstance(value, list):
        return [redact_config(item) for item in value]
    if isinstance(value, str):
        return redact_text(value)
    return value
