"""The install log: every engine message and command line, redacted, to a file
and the console.

All of it goes through the ``cloudinit_maaslike.install`` logger, whose filter
replaces known secret values (the config's token secrets, OAuth signatures,
``maas-metadata-credentials``) before any handler sees a record, so the log
file, the console, cloud-init's own log and the copies posted to MAAS are
all clean.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, Iterable, List, Mapping, Optional, Set

from ..redact import SECRET_KEYS, redact_text

LOGGER_NAME = "cloudinit_maaslike.install"


def secret_values(config: Any) -> Set[str]:
    """Every value under a secret-looking key anywhere in the config."""
    found: Set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                if isinstance(key, str) and key.lower() in SECRET_KEYS and isinstance(item, (str, int)):
                    if str(item):
                        found.add(str(item))
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str) and "oauth_token_secret=" in value:
            for part in value.replace(" ", "&").split("&"):
                if part.startswith("oauth_token_secret="):
                    found.add(part.split("=", 1)[1])

    walk(config)
    return {s for s in found if len(s) >= 4}


class RedactFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str]):
        super().__init__()
        self.secrets = sorted(set(secrets), key=len, reverse=True)

    def redact(self, text: str) -> str:
        return redact_text(text, self.secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.redact(message)
        if clean != message or record.args:
            record.msg, record.args = clean, ()
        return True


class InstallLog:
    """Attach file and console handlers to the install logger for one run."""

    def __init__(self, path: Optional[str], secrets: Iterable[str], append: bool = False,
                 console: bool = True, propagate: bool = True):
        self.logger = logging.getLogger(LOGGER_NAME)
        self.logger.setLevel(logging.DEBUG)
        # Inside cloud-init the records also reach cloud-init's log; on the
        # command line the console handler is all there is.
        self._propagate_before = self.logger.propagate
        self.logger.propagate = propagate
        self.filter = RedactFilter(secrets)
        self.logger.addFilter(self.filter)
        self.handlers: List[logging.Handler] = []
        self.path = path
        if path:
            os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
            handler: logging.Handler = logging.FileHandler(path, mode="a" if append else "w",
                                                           encoding="utf-8")
            os.chmod(path, 0o600)
            handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
            self._add(handler)
        if console:
            stream = logging.StreamHandler(sys.stdout)
            stream.setFormatter(logging.Formatter("%(message)s"))
            self._add(stream)

    def _add(self, handler: logging.Handler) -> None:
        handler.setLevel(logging.INFO)
        self.logger.addHandler(handler)
        self.handlers.append(handler)

    def redact(self, text: str) -> str:
        return self.filter.redact(text)

    def close(self) -> None:
        for handler in self.handlers:
            self.logger.removeHandler(handler)
            handler.close()
        self.logger.removeFilter(self.filter)
        self.logger.propagate = self._propagate_before
        self.handlers = []
