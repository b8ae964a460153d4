"""Turn user-data into a `Payload`, reading everything and running nothing.

Order matters for the messages a user sees: the wrapping, then the header and
command (cheap, and they say what the payload is for), then the MD5 over the
archive (a damaged transfer is reported as such, not as a tar error), then
the archive itself, and last the configs the command names.
"""

from __future__ import annotations

import hashlib
import logging
from types import MappingProxyType
from typing import Dict, List, Tuple, Union

from .archive import read_archive
from .command import parse_install_command
from .limits import MAX_CONFIGS, Allowance
from .model import KIND_CURTIN, KIND_MAASLIKE, NotAPayload, Payload, PayloadError
from .names import member_name
from .script import decode_body, split_script
from .wrappers import unwrap

MAASLIKE_HEADER = "MAASLIKE_VERSION"
LOG = logging.getLogger(__name__)


def looks_like_payload(data: Union[bytes, str]) -> bool:
    """Whether `data` is (or claims to be) an install payload; never raises.

    Damaged payloads count: cloud-init must not run a broken install script as
    if it were ordinary user-data, so they are claimed and reported by
    `decode`.  So do payloads past a limit (a gzip layer expanding past the
    budget, a message with too many parts): it fails closed.  A
    ``#cloud-config`` or plain script is answered from its first bytes.
    """
    try:
        unwrap(_as_bytes(data))
    except NotAPayload:
        return False
    except PayloadError:
        return True
    except Exception:  # a bug here must not let cloud-init run a payload
        LOG.warning("cannot tell whether user-data is an install payload; claiming it", exc_info=True)
        return True
    return True


def decode(data: Union[bytes, str], check_md5: bool = True) -> Payload:
    """Decode user-data holding a curtin-style pack script.

    Raises `NotAPayload` for anything else and `PayloadError` for a damaged
    or unsafe payload; a wrong MD5 is an error unless `check_md5` is False
    (then `md5_ok` tells).
    """
    raw = _as_bytes(data)
    allowance = Allowance.for_input(len(raw))
    script_bytes, wrapping = unwrap(raw, allowance)
    script = split_script(script_bytes)
    command = parse_install_command(script.command)
    archive_bytes = decode_body(script.body, script.body_line)
    found = hashlib.md5(archive_bytes, usedforsecurity=False).hexdigest()
    expected = script.header.get("MD5SUM", "").strip().lower()
    md5_ok = found == expected
    if check_md5 and not md5_ok:
        if not expected:
            raise PayloadError("header sets no MD5SUM, so the archive cannot be checked")
        raise PayloadError(f"archive MD5 mismatch: header says {expected}, archive is {found}")
    contents = read_archive(archive_bytes, limit=allowance.left)
    options, configs = _configs(command.options, contents.files)
    config_names = {name for name, _ in configs}
    members = {name: data for name, data in contents.files.items() if name not in config_names}
    return Payload(
        configs=tuple(configs),
        command=script.command,
        sources=command.sources,
        sets=command.sets,
        members=MappingProxyType(members),
        md5_ok=md5_ok,
        kind=KIND_MAASLIKE if MAASLIKE_HEADER in script.header else KIND_CURTIN,
        wrapping=wrapping,
        header=MappingProxyType(dict(script.header)),
        options=options,
        modes=MappingProxyType({name: contents.modes[name] for name in members}),
        symlinks=MappingProxyType(dict(contents.symlinks)),
        md5=found,
    )


def _configs(
    options: Tuple[Tuple[str, str], ...], files: Dict[str, bytes]
) -> Tuple[Tuple[Tuple[str, str], ...], List[Tuple[str, str]]]:
    """Each ``--config`` as (member, text), and the options naming members."""
    named: List[Tuple[str, str]] = []
    configs: List[Tuple[str, str]] = []
    texts: Dict[str, str] = {}  # a config named twice is one text, not two copies
    for kind, value in options:
        if kind != "config":
            named.append((kind, value))
            continue
        if len(configs) >= MAX_CONFIGS:
            raise PayloadError(f"COMMAND has more than {MAX_CONFIGS} --config options")
        try:
            name = member_name(value, what="COMMAND --config")
        except PayloadError:
            raise PayloadError(f"COMMAND --config {value} is not inside the archive") from None
        if name not in files:
            raise PayloadError(f"COMMAND --config {value} names no file in the archive")
        if name not in texts:
            try:
                texts[name] = files[name].decode("utf-8")
            except UnicodeDecodeError as exc:
                raise PayloadError(f"config {name} is not UTF-8 (byte {exc.start})") from None
        named.append((kind, name))
        configs.append((name, texts[name]))
    return tuple(named), configs


def _as_bytes(data: Union[bytes, str]) -> bytes:
    if isinstance(data, str):
        return data.encode("utf-8", errors="surrogateescape")
    return data if isinstance(data, bytes) else bytes(data)
