"""The legacy ``reporter: maas:`` signal: one multipart ``op=signal`` at the end.

MAAS configs for curtin versions without webhook events send this form: a
``status=OK|FAILED`` (plus the error text and one file part per post file) to
``…/MAAS/metadata/curtin/latest/?op=signal``.  Like curtin we retry after 1,
1, 2, 4, 8, 16 and 32 s and expect the body ``OK``; a failure is logged and
the install's own result stands.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from typing import Callable, Mapping, Optional, Tuple

from ..clockskew import ServerClock
from ..config.model import LegacyMaasReporter
from ..httpclient import HttpClient, TransportError
from ..oauth import Signer

LOG = logging.getLogger(__name__)

RETRY_DELAYS = (1, 1, 2, 4, 8, 16, 32)


def encode_multipart(fields: Mapping[str, str], files: Mapping[str, bytes]) -> Tuple[bytes, str]:
    """(body, content type) for multipart/form-data."""
    boundary = "maaslike-" + secrets.token_hex(12)
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode("utf-8") + b"\r\n"
        )
    for name, content in files.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode() + content + b"\r\n"
        )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def send_signal(
    reporter: LegacyMaasReporter,
    status: str,
    error: str = "",
    files: Optional[Mapping[str, bytes]] = None,
    clock: Optional[ServerClock] = None,
    client: Optional[HttpClient] = None,
    sleep: Callable[[float], None] = time.sleep,
    delays: Tuple[float, ...] = RETRY_DELAYS,
) -> bool:
    fields = {"op": "signal", "status": status}
    if error:
        fields["error"] = error
    named = {os.path.basename(path): data for path, data in (files or {}).items()}
    body, content_type = encode_multipart(fields, named)
    signer = Signer(reporter.credentials, clock) if reporter.credentials else None
    client = client or HttpClient()
    why = ""
    for delay in (0, *delays):
        if delay:
            sleep(delay)
        headers = {"Content-Type": content_type}
        if signer is not None:
            headers["Authorization"], _ = signer.sign(reporter.url, "POST")
        try:
            response = client.request("POST", reporter.url, headers=headers, body=body, timeout=30)
        except TransportError as exc:
            why = exc.reason
            continue
        if response.status == 200 and response.body.strip() == b"OK":
            LOG.info("signalled %s to %s", status, reporter.url.split("?")[0])
            return True
        why = f"HTTP {response.status}: {response.text.strip()[:100]}"
        if response.status in (400, 404, 409):
            break
    LOG.warning("could not signal %s to %s: %s", status, reporter.url.split("?")[0], why)
    return False
