"""What a decoded install payload is, and the ways decoding can fail.

The decoded form is a frozen value so every later stage (config merge, the
install engine, `maaslike unpack`) reads the same facts and none can change
them behind another's back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping, Tuple

from ..errors import MaaslikeError

MARKER = "_____PAYLOAD_____"
KIND_CURTIN = "curtin-pack"
KIND_MAASLIKE = "maaslike-pack"



def _no_text() -> Mapping[str, str]:
    return MappingProxyType({})


def _no_modes() -> Mapping[str, int]:
    return MappingProxyType({})


class PayloadError(MaaslikeError):
    """The input claims to be an install payload but is damaged or unsafe.

    The message names what is wrong: the member, the header line, the MD5
    expected and found.  It never quotes config contents (they hold tokens).
    """


class NotAPayload(PayloadError):
    """The input is not an install payload at all; cloud-init should have it.

    A distinct exit code lets scripts tell "not ours" from "ours but broken".
    """

    exit_code = 3


class OutputError(MaaslikeError):
    """Writing decoded files failed (the destination, not the payload, is at fault)."""


@dataclass(frozen=True)
class Payload:
    """A decoded payload: what the packed command would install, and with what.

    `options` keeps the ``--config``/``--set`` options in command-line order
    (``("config", member)`` or ``("set", "key=value")``), because curtin
    merges them interleaved in that order.
    """

    configs: Tuple[Tuple[str, str], ...]
    command: Tuple[str, ...]
    sources: Tuple[str, ...]
    sets: Tuple[str, ...]
    members: Mapping[str, bytes]
    md5_ok: bool
    kind: str
    wrapping: str
    header: Mapping[str, str]
    options: Tuple[Tuple[str, str], ...] = ()
    modes: Mapping[str, int] = field(default_factory=_no_modes)
    symlinks: Mapping[str, str] = field(default_factory=_no_text)
    md5: str = ""  # the MD5 of the archive as found
