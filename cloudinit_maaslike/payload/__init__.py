"""MAAS's curtin install payload: decoded without running it, and packed.

MAAS hands a deploying node a ``curtin pack`` script: bash that carries a
base64 tar.gz of curtin and its configs and runs ``curtin install``.  Running
it would hand the machine to that bash; decoding it lets the installer read
the configs and sources, check them, and run the stages itself.

Modules, one job each: `wrappers` (MIME, base64, gzip user-data), `script`
and `shellwords` (marker, header, ``COMMAND`` quoting), `command` (curtin's
argument syntax), `archive` and `names` (safe tar reading), `configs` (YAML
and curtin's merge order), `tree` and `members` (writing files atomically),
`encode`, `extractor`, `tarball` and `bundle` (packing).  `limits` holds
every bound decoding applies (input size, expansion budget, header, members,
paths, MIME); configs are read through `config.bounded`.
"""

from .configs import loaded_configs, merged_config, parse_config_text
from .decode import decode, looks_like_payload
from .encode import pack
from .members import write_members
from .model import KIND_CURTIN, KIND_MAASLIKE, MARKER, NotAPayload, OutputError, Payload, PayloadError

__all__ = [
    "KIND_CURTIN",
    "KIND_MAASLIKE",
    "MARKER",
    "NotAPayload",
    "OutputError",
    "Payload",
    "PayloadError",
    "decode",
    "loaded_configs",
    "looks_like_payload",
    "merged_config",
    "pack",
    "parse_config_text",
    "write_members",
]
