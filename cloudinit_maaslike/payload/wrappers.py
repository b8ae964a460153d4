"""Find the pack script inside whatever user-data wraps it.

MAAS serves the curtin script bare for deploys, as one ``text/x-shellscript``
part of a MIME multipart for ephemeral deploys, and stores user-data base64
encoded; cloud-init also accepts gzip-compressed user-data.  Each layer is
peeled here and named (outermost first: ``"base64+gzip"``), so a report can
say how the payload arrived.  What is not a payload under any layer is
`NotAPayload`, and cloud-init keeps it.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import List, Tuple

from .archive import gunzip
from .model import NotAPayload, PayloadError
from .script import is_pack_script

MAX_USERDATA_BYTES = 512 * 1024 * 1024
_MAX_DEPTH = 4
_MIME_START = re.compile(rb"[A-Za-z][A-Za-z0-9-]*:[ \t]")
_MIME_CONTENT_TYPE = re.compile(rb"(?im)^content-type:")
_BASE64_TEXT = re.compile(rb"[A-Za-z0-9+/=\s]+")
_WHITESPACE = b" \t\r\n\v\f"


def unwrap(data: bytes) -> Tuple[bytes, str]:
    """The pack script inside `data`, and how it was wrapped ("plain", "mime", …)."""
    return _unwrap(data, 0)


def _unwrap(data: bytes, depth: int) -> Tuple[bytes, str]:
    if depth > _MAX_DEPTH:
        raise NotAPayload("user-data is wrapped too many times to be an install payload")
    if is_pack_script(data):
        return data, "plain"
    if data.startswith(b"\x1f\x8b"):
        try:
            inner = gunzip(data, "gzip user-data", MAX_USERDATA_BYTES)
        except PayloadError as exc:
            raise NotAPayload(f"gzip user-data does not decompress: {exc}") from None
        return _layer("gzip", *_unwrap(inner, depth + 1))
    if _looks_like_mime(data):
        return _layer("mime", *_mime_payload(data, depth))
    if _looks_like_base64(data):
        try:
            inner = base64.b64decode(data.translate(None, _WHITESPACE), validate=True)
        except (binascii.Error, ValueError):
            raise NotAPayload("user-data looks like base64 but does not decode") from None
        return _layer("base64", *_unwrap(inner, depth + 1))
    raise NotAPayload(describe(data))


def _layer(outer: str, inner: bytes, wrapping: str) -> Tuple[bytes, str]:
    return inner, outer if wrapping == "plain" else f"{outer}+{wrapping}"


def _looks_like_mime(data: bytes) -> bool:
    if not _MIME_START.match(data):
        return False
    end = data.find(b"\n\n")
    headers = data if end < 0 else data[:end]
    return _MIME_CONTENT_TYPE.search(headers) is not None


def _looks_like_base64(data: bytes) -> bool:
    stripped = data.strip()
    return len(stripped) >= 8 and _BASE64_TEXT.fullmatch(stripped) is not None


def _mime_payload(data: bytes, depth: int) -> Tuple[bytes, str]:
    """The one MIME part that holds a payload; two would be ambiguous."""
    import email  # only MIME user-data pays for the email package

    message = email.message_from_bytes(data)
    found: List[Tuple[int, bytes, str]] = []
    for number, part in enumerate(message.walk(), start=1):
        if part.is_multipart():
            continue
        body = bytes(part.get_payload(decode=True) or b"")  # email decodes leniently, never raises
        try:
            inner, wrapping = _unwrap(body, depth + 1)
        except NotAPayload:
            continue
        found.append((number, inner, wrapping))
    if not found:
        raise NotAPayload("MIME user-data has no part holding an install payload")
    if len(found) > 1:
        numbers = ", ".join(str(number) for number, _, _ in found)
        raise PayloadError(f"MIME user-data holds {len(found)} install payloads (parts {numbers})")
    _, inner, wrapping = found[0]
    return inner, wrapping


def describe(data: bytes) -> str:
    """What non-payload user-data is, without quoting what might be a secret."""
    if not data.strip():
        return "user-data is empty"
    if data.startswith(b"#cloud-config"):
        return "user-data is a #cloud-config, not an install payload"
    if data.startswith(b"#!"):
        return "user-data is a script without an install payload"
    if data.startswith(b"#"):
        word = data.split(None, 1)[0][:32].decode("ascii", errors="replace")
        return f"user-data is {word} content, not an install payload"
    return f"user-data ({len(data)} bytes) is not an install payload"
