"""Report an install that failed before it could start: a payload that cannot be decoded or validated.

Without this the node just stays "deploying" until MAAS's timeout.  No
install config exists yet, so the reporting endpoints come from what the node
already has: cloud-init's own ``reporting:`` (MAAS puts its webhook, with the
node's OAuth token, in the preseed) and, when the payload could at least be
merged, the install config's ``reporting:``/``reporter:``.  The events are the
ones MAAS acts on: ``cmd-install`` start and finish with result FAIL and the
reason as its description, then the legacy ``FAILED`` signal.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, Mapping, Optional

from ..config.merge import merge_configs
from ..config.parse import parse_install_config
from ..errors import MaaslikeError
from ..redact import redact_text
from ..reporting import FAIL, ROOT, Reporter
from .installlog import secret_values

LOG = logging.getLogger("cloudinit_maaslike.install")
FLUSH_SECONDS = 10.0


def reporting_sections(*configs: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """``reporting`` and ``reporter`` merged from `configs`, later ones winning per endpoint name."""
    merged: Dict[str, Any] = {"reporting": {}, "reporter": {}}
    for config in configs:
        for key in merged:
            section = (config or {}).get(key)
            if isinstance(section, Mapping):
                merged[key].update({str(k): v for k, v in section.items() if isinstance(v, Mapping)})
    return {key: value for key, value in merged.items() if value}


def report_failure_before_install(message: str, *configs: Optional[Mapping[str, Any]],
                                  log: logging.Logger = LOG, flush_seconds: float = FLUSH_SECONDS) -> int:
    """Send FAIL for ``cmd-install`` with `message`; returns how many endpoints were tried."""
    sections = reporting_sections(*configs)
    if not sections:
        log.error("maaslike: no reporting endpoint is configured; the failure is only in this log")
        return 0
    try:
        config = parse_install_config(merge_configs([sections]), where="reporting")
    except MaaslikeError as exc:
        log.error("maaslike: cannot report the failure: %s", exc)
        return 0
    safe = redact_text(message, secret_values(config.raw))
    reporter = Reporter(config, logger=log)
    reporter.start(ROOT, "curtin command install")
    reporter.finish(ROOT, safe, FAIL)
    reporter.signal("FAILED", safe)
    reporter.flush(flush_seconds)
    return len(reporter.posters)
