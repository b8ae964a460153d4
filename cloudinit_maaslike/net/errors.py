"""The network part's errors: each message names the file, device or key at fault."""

from __future__ import annotations

from ..errors import MaaslikeError


class NetworkError(MaaslikeError):
    """Discovery, mode selection or rendering of the network config failed."""

    exit_code = 3


class NetworkApplyError(NetworkError):
    """The network config cannot be written into this target."""
