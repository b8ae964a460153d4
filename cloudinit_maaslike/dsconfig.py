"""The datasource's settings, parsed once into a frozen object.

They come from ``datasource: MAASLike: {...}`` and, for everything that
section does not say, from ``datasource: MAAS: {...}``, so a real MAAS preseed
(which only knows ``MAAS``) works unchanged and an operator can still tune
timeouts in a ``MAASLike`` snippet.  The endpoint and the credentials are
taken as one group from a single section (MAASLike when it names a
``metadata_url`` or any credential, else MAAS) so credentials from two
sources are never mixed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Tuple

from .errors import ConfigError
from .oauth import CREDENTIAL_KEYS, Credentials, credentials_from

LOG = logging.getLogger(__name__)

DSNAME = "MAASLike"
FALLBACK_DSNAME = "MAAS"

DEFAULT_TIMEOUT = 10.0  # seconds: the connect and each read
DEFAULT_MAX_WAIT = 120.0  # seconds: the whole crawl, retries included
DEFAULT_REQUEST_DEADLINE = 30.0  # seconds: one whole answer, however it trickles in
DEFAULT_MAX_ITEM_SIZE = 64 << 20  # bytes: the largest item (user-data) accepted

_ENDPOINT_KEYS = ("metadata_url", *CREDENTIAL_KEYS, "consumer_secret")
_TUNABLE_KEYS = ("timeout", "max_wait", "retries", "seed_dir", "skew_file", "request_deadline",
                 "max_item_size")
KNOWN_KEYS = frozenset(_ENDPOINT_KEYS + _TUNABLE_KEYS)


@dataclass(frozen=True)
class SourceConfig:
    metadata_url: Optional[str]
    credentials: Optional[Credentials]
    timeout: float = DEFAULT_TIMEOUT
    max_wait: float = DEFAULT_MAX_WAIT
    retries: Optional[int] = None
    seed_dir: Optional[str] = None
    skew_file: Optional[str] = None
    origin: str = f"datasource.{DSNAME}"  # the section the endpoint came from
    request_deadline: float = DEFAULT_REQUEST_DEADLINE
    max_item_size: int = DEFAULT_MAX_ITEM_SIZE


def _section(cfg: Mapping[str, Any], name: str, where: Optional[str]) -> Mapping[str, Any]:
    datasource = cfg.get("datasource") or {}
    if not isinstance(datasource, Mapping):
        raise ConfigError("datasource", "expected a mapping", where)
    section = datasource.get(name) or {}
    if not isinstance(section, Mapping):
        raise ConfigError(f"datasource.{name}", "expected a mapping", where)
    return section


def _number(value: Any, path: str, where: Optional[str], minimum: Optional[float] = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(path, f"expected a number of seconds, got {value!r}", where)
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(path, f"expected a number of seconds, got {value!r}", where) from None
    if minimum is not None and number < minimum:
        raise ConfigError(path, f"must be at least {minimum:g}, got {value!r}", where)
    return number


def _has_endpoint(section: Mapping[str, Any]) -> bool:
    return any(section.get(k) not in (None, "") for k in _ENDPOINT_KEYS)


def source_config(cfg: Mapping[str, Any], where: Optional[str] = None) -> SourceConfig:
    """Parse the datasource settings out of a (merged) cloud-config dict.

    Every problem is a `ConfigError` naming the key; unknown keys in our own
    section are warned about with their path, never silently dropped.
    """
    ours = _section(cfg, DSNAME, where)
    maas = _section(cfg, FALLBACK_DSNAME, where)
    for key in ours:
        if key not in KNOWN_KEYS:
            LOG.warning("%sdatasource.%s.%s: unknown key, ignored",
                        f"{where}: " if where else "", DSNAME, key)

    endpoint_name = DSNAME if _has_endpoint(ours) or not _has_endpoint(maas) else FALLBACK_DSNAME
    endpoint = ours if endpoint_name == DSNAME else maas
    origin = f"datasource.{endpoint_name}"

    def tunable(key: str) -> Tuple[Any, str]:
        if ours.get(key) is not None:
            return ours[key], f"datasource.{DSNAME}.{key}"
        return maas.get(key), f"datasource.{FALLBACK_DSNAME}.{key}"

    url = endpoint.get("metadata_url")
    if url is not None and not isinstance(url, str):
        raise ConfigError(f"{origin}.metadata_url", f"expected a URL string, got {url!r}", where)
    if url:
        scheme = url.split(":", 1)[0].lower()
        if scheme not in ("http", "https", "file"):
            raise ConfigError(f"{origin}.metadata_url", f"unsupported scheme in {url!r}", where)
    try:
        credentials = credentials_from(endpoint, origin)
    except ConfigError as exc:
        raise ConfigError(exc.path, exc.problem, where) from None

    value, path = tunable("timeout")
    timeout = DEFAULT_TIMEOUT if value is None else _number(value, path, where, minimum=0.1)
    value, path = tunable("max_wait")
    max_wait = DEFAULT_MAX_WAIT if value is None else _number(value, path, where)
    value, path = tunable("retries")
    retries: Optional[int] = None
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(path, f"expected a whole number >= 0, got {value!r}", where)
        retries = value
    value, path = tunable("request_deadline")
    request_deadline = (DEFAULT_REQUEST_DEADLINE if value is None
                        else _number(value, path, where, minimum=0.5))
    value, path = tunable("max_item_size")
    max_item_size = DEFAULT_MAX_ITEM_SIZE
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(path, f"expected a number of bytes >= 1, got {value!r}", where)
        max_item_size = value
    strings = {}
    for key in ("seed_dir", "skew_file"):
        value, path = tunable(key)
        if value is not None and not isinstance(value, str):
            raise ConfigError(path, f"expected a path, got {value!r}", where)
        strings[key] = value or None
    return SourceConfig(
        metadata_url=url or None,
        credentials=credentials,
        timeout=timeout,
        max_wait=max_wait,
        retries=retries,
        seed_dir=strings["seed_dir"],
        skew_file=strings["skew_file"],
        origin=origin,
        request_deadline=request_deadline,
        max_item_size=max_item_size,
    )
