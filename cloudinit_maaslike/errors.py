"""The one exception hierarchy of the project.

Every message names what failed and where (a URL, a file, a config key) so an
operator reading a single line in a boot log knows what to fix.  No message may
carry a secret: callers build messages from URLs, key paths and server
answers, never from credentials, and `redact` is applied to anything that
echoes server text.
"""

from __future__ import annotations

from typing import Optional


class MaaslikeError(Exception):
    """Base class: `str(err)` is a complete, single-line explanation."""

    exit_code = 1

    def __str__(self) -> str:
        return " ".join(super().__str__().split())


class ConfigError(MaaslikeError):
    """A configuration value is missing, mistyped or inconsistent.

    `path` is the dotted key path (``datasource.MAAS.timeout``) so tests and
    tools can point at the exact key.
    """

    exit_code = 2

    def __init__(self, path: str, problem: str, where: Optional[str] = None):
        self.path = path
        self.problem = problem
        self.where = where
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}{path}: {problem}")


class MetadataError(MaaslikeError):
    """Reading the metadata service or a seed failed."""

    def __init__(self, message: str, url: str = "", status: Optional[int] = None):
        self.url = url
        self.status = status
        super().__init__(message)


class MetadataNotFound(MetadataError):
    """A required item answered 404: the node is unknown or the tree is wrong."""


class MetadataAuthError(MetadataError):
    """The server refused our credentials and clock skew does not explain it."""


class MetadataUnavailable(MetadataError):
    """Retries or the overall deadline (max_wait) ran out."""


class SeedError(MetadataError):
    """A local seed directory exists but is incomplete or unreadable."""


class PreseedError(MaaslikeError):
    """The cloud-config preseed could not be fetched or is not usable."""
