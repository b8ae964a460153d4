"""Fetch a MAAS preseed the way cloud-init does for ``cloud-config-url=``.

MAAS puts ``cloud-config-url=http://…/?op=get_preseed`` on the kernel command
line; cloud-init downloads it (10 s timeout, 2 retries a second apart), keeps
it only if it starts with ``#cloud-config``, and merges it into its system
config, where ``datasource: MAAS:`` and ``reporting:`` take effect.  The
`maaslike crawl --preseed-url` path uses this to behave like a booting node.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List, Optional

from .errors import PreseedError

CLOUD_CONFIG_HEADER = b"#cloud-config"


def parse_cmdline_url(cmdline: str) -> Optional[str]:
    """The ``cloud-config-url=`` (or legacy ``url=``) value of a kernel command line."""
    found: Dict[str, str] = {}
    for word in cmdline.split():
        if word == "--":
            break
        key, sep, value = word.partition("=")
        if sep and key in ("cloud-config-url", "url") and key not in found:
            found[key] = value
    return found.get("cloud-config-url") or found.get("url")


def parse_preseed(body: bytes, where: str, require_header: bool = True) -> Dict[str, Any]:
    """Parse a cloud-config document; cloud-init insists on the header for preseeds."""
    if require_header and not body.startswith(CLOUD_CONFIG_HEADER):
        first = body[:40].decode("utf-8", errors="replace").splitlines()[:1]
        raise PreseedError(
            f"preseed at {where} does not start with #cloud-config"
            + (f" (starts with {first[0]!r})" if first else " (empty)")
        )
    from .config.bounded import DocumentError, DocumentLimitError, load_yaml

    try:
        loaded = load_yaml(body, where)
    except DocumentLimitError:
        raise  # a ConfigError naming the limit
    except DocumentError as exc:
        line = f" at {exc.path}" if exc.path.startswith("line ") else ""
        raise PreseedError(f"{where} is not valid YAML{line}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise PreseedError(f"{where} holds a {type(loaded).__name__}, not a mapping")
    return loaded


def fetch_preseed(url: str, timeout: float = 10.0, retries: int = 2) -> Dict[str, Any]:
    """Download and parse the preseed at `url` (http(s) or file)."""
    if url.startswith("file://") or url.startswith("/"):
        path = url[len("file://"):] if url.startswith("file://") else url
        try:
            with open(path, "rb") as handle:
                return parse_preseed(handle.read(), url)
        except OSError as exc:
            raise PreseedError(f"cannot read preseed {path}: {exc.strerror}") from None

    from .httpclient import HttpClient, TransportError

    client = HttpClient()
    errors: List[str] = []
    try:
        for attempt in range(retries + 1):
            if attempt:
                time.sleep(1.0)
            try:
                response = client.request("GET", url, timeout=timeout)
            except TransportError as exc:
                errors.append(exc.reason)
                continue
            if response.status == 200:
                return parse_preseed(response.body, url)
            errors.append(f"HTTP {response.status}")
            if response.status < 500:
                break
    finally:
        client.close()
    raise PreseedError(f"cannot fetch preseed {url}: {errors[-1]} (after {len(errors)} attempts)")
