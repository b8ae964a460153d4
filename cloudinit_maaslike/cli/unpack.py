"""`maaslike unpack`: look inside an install payload without running it.

Writes ``DIR/configs/config-NNN.cfg`` (verbatim, in command order),
``DIR/command.json`` (the packed argument list) and ``DIR/merged.yaml`` (the
install config curtin would build, secrets redacted), all 0600 in a 0700
directory, because MAAS configs carry OAuth tokens.  Everything is decoded
and checked first and the directory appears in one rename, so a damaged
payload leaves DIR as it was.  Standard output is one JSON summary.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Set, Tuple

if TYPE_CHECKING:
    from ..payload import Payload

PRIVATE = 0o600
# ``token_secret: X`` inside a string (MAAS's cloudconfig files embed whole
# cloud-configs), which key-based redaction cannot see
_EMBEDDED_SECRET = re.compile(
    r"(?i)\b(?:token_secret|consumer_secret|password|passwd)[\"']?\s*[:=]\s*[\"']?([^\s\"'&,}]+)"
)
_MIN_SECRET = 4  # shorter values would blank unrelated text


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("payload", metavar="PAYLOAD",
                        help="the user-data holding the payload ('-' for standard input)")
    parser.add_argument("--output", "-o", metavar="DIR",
                        help="write the configs, command and merged config here (absent or empty)")
    parser.add_argument("--members", action="store_true",
                        help="also write the payload's other files under DIR/members/")
    parser.add_argument("--ignore-md5", action="store_true",
                        help="decode even if the archive does not match its MD5 (reported as 'mismatch')")


def run(args: argparse.Namespace) -> int:
    from ..payload import PayloadError, decode, merged_config
    from ..payload.tree import refuse_unless_empty, write_tree

    data = _read_input(args.payload)
    if args.output:
        refuse_unless_empty(args.output)
    try:
        payload = decode(data, check_md5=not args.ignore_md5)
        merged = merged_config(payload)
    except (RecursionError, MemoryError) as exc:  # the bounded readers should make this unreachable
        raise PayloadError(f"{args.payload}: cannot be decoded within this process's limits "
                           f"({type(exc).__name__})") from None
    if args.output:
        write_tree(args.output, _files(payload, merged, args.members), _links(payload, args.members))
    json.dump(summary(payload, args.output), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def _read_input(path: str) -> bytes:
    from ..errors import ConfigError

    try:
        if path == "-":
            return sys.stdin.buffer.read()
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise ConfigError("PAYLOAD", f"cannot read {path}: {exc.strerror}") from None


def _files(payload: Payload, merged: Dict[str, Any], with_members: bool) -> List[Tuple[str, bytes, int]]:
    import yaml

    files = [
        (f"configs/config-{index:03d}.cfg", text.encode("utf-8"), PRIVATE)
        for index, (_, text) in enumerate(payload.configs)
    ]
    files.append(("command.json", (json.dumps(list(payload.command), indent=2) + "\n").encode(), PRIVATE))
    dumped = yaml.safe_dump(redacted(merged), default_flow_style=False, sort_keys=True, allow_unicode=True)
    files.append(("merged.yaml", dumped.encode("utf-8"), PRIVATE))
    if with_members:
        files += [
            (f"members/{name}", data, payload.modes.get(name, 0o644) & 0o755)
            for name, data in payload.members.items()
        ]
    return files


def redacted(config: Any) -> Any:
    """`redact_config`, then every secret value found hidden wherever else it appears."""
    from ..redact import redact_config

    secrets: Set[str] = set()
    _collect_secrets(config, secrets)
    return _scrub(redact_config(config), {s for s in secrets if len(s) >= _MIN_SECRET})


def _collect_secrets(value: Any, secrets: Set[str]) -> None:
    from ..redact import SECRET_KEYS

    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and key.lower() in SECRET_KEYS and isinstance(item, str):
                secrets.add(item)
            _collect_secrets(item, secrets)
    elif isinstance(value, list):
        for item in value:
            _collect_secrets(item, secrets)
    elif isinstance(value, str):
        secrets.update(_EMBEDDED_SECRET.findall(value))


def _scrub(value: Any, secrets: Set[str]) -> Any:
    from ..redact import redact_text

    if isinstance(value, dict):
        return {key: _scrub(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item, secrets) for item in value]
    if isinstance(value, str):
        return redact_text(value, secrets)
    return value


def _links(payload: Payload, with_members: bool) -> Dict[str, str]:
    if not with_members:
        return {}
    return {f"members/{name}": target for name, target in payload.symlinks.items()}


def summary(payload: Payload, output: Optional[str]) -> Dict[str, Any]:
    """What the payload holds; ``--set`` values under secret keys are hidden."""
    from ..redact import redact_text

    return {
        "md5": _md5_state(payload),
        "kind": payload.kind,
        "wrapping": payload.wrapping,
        "configs": [name for name, _ in payload.configs],
        "command": [_hide_secret_set(redact_text(word)) for word in payload.command],
        "sources": list(payload.sources),
        "sets": [_hide_secret_set(value) for value in payload.sets],
        "members": len(payload.members),
        "output": output,
    }


def _md5_state(payload: Payload) -> str:
    if payload.md5_ok:
        return "ok"
    return "mismatch" if payload.header.get("MD5SUM") else "missing"


def _hide_secret_set(word: str) -> str:
    """``…token_secret=S`` -> ``…token_secret=<redacted>`` (``--set`` syntax)."""
    from ..redact import REDACTED, SECRET_KEYS

    if word.startswith("--"):
        option, sep, rest = word.partition("=")
        return f"{option}={_hide_secret_set(rest)}" if sep else word
    path, sep, value = word.partition("=")
    key = path.rstrip("/").rsplit("/", 1)[-1].lower()
    if sep and value and key in SECRET_KEYS:
        return f"{path}={REDACTED}"
    return word
