"""Read a source's bytes in order, from HTTP or a file, checking as they pass.

Over HTTP a dropped connection is resumed with a Range request from the byte
it stopped at (a server without Range support is read again and the start
skipped), up to a few times; the sha256 (given, or found in a SHA256SUMS file
next to the image) is computed while streaming and checked at the end; and
the length is checked against Content-Length, so a truncated download can
never pass for a complete one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import posixpath
import time
from typing import IO, Optional
from urllib.parse import urlsplit, urlunsplit

from ..errors import MaaslikeError
from ..httpclient import HttpClient, Stream, TransportError
from .progress import Progress

LOG = logging.getLogger("cloudinit_maaslike.install")
MAX_RESUMES = 5


class SourceError(MaaslikeError):
    exit_code = 3


def _sums_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, posixpath.join(posixpath.dirname(parts.path),
                                                                  "SHA256SUMS"), "", ""))


def sha256_from_sums(client: HttpClient, url: str, timeout: float = 10.0) -> Optional[str]:
    """The image's sha256 from a SHA256SUMS file in the same directory, if any."""
    try:
        response = client.request("GET", _sums_url(url), timeout=timeout)
    except TransportError:
        return None
    if response.status != 200:
        return None
    name = posixpath.basename(urlsplit(url).path)
    for line in response.text.splitlines():
        fields = line.split()
        if len(fields) == 2 and fields[1].lstrip("*") == name and len(fields[0]) == 64:
            return fields[0].lower()
    return None


class SourceReader:
    def __init__(self, uri: str, sha256: Optional[str] = None, progress: Optional[Progress] = None,
                 client: Optional[HttpClient] = None, timeout: float = 30.0, look_for_sums: bool = True):
        self.uri = uri
        self.expected = sha256.lower() if sha256 else None
        self.progress = progress
        self.client = client or HttpClient()
        self.timeout = timeout
        self.look_for_sums = look_for_sums
        self.hash: Optional[hashlib._Hash] = None  # only when there is a sum to check
        self.offset = 0
        self.total: Optional[int] = None
        self.resumes = 0
        self._file: Optional[IO[bytes]] = None
        self._stream: Optional[Stream] = None

    @property
    def is_http(self) -> bool:
        return self.uri.startswith(("http://", "https://"))

    def open(self) -> Optional[int]:
        """Start reading; returns the total size when known."""
        if self.is_http:
            if self.expected is None and self.look_for_sums:
                self.expected = sha256_from_sums(self.client, self.uri)
                if self.expected:
                    LOG.info("extract: checking %s against SHA256SUMS", self.uri)
            self._connect()
        else:
            path = self.uri[len("file://"):] if self.uri.startswith("file://") else self.uri
            try:
                self._file = open(path, "rb")  # noqa: SIM115 - read piece by piece, closed in close()
                self.total = os.fstat(self._file.fileno()).st_size
            except OSError as exc:
                raise SourceError(f"cannot read source {path}: {exc.strerror}") from None
        if self.expected:
            self.hash = hashlib.sha256()
        if self.progress is not None:
            self.progress.total = self.total
        return self.total

    def _connect(self) -> None:
        headers = {"Range": f"bytes={self.offset}-"} if self.offset else {}
        try:
            stream = self.client.stream(self.uri, headers=headers, timeout=self.timeout)
        except TransportError as exc:
            raise SourceError(f"cannot fetch {self.uri}: {exc.reason}") from None
        if stream.status == 206 and self.offset:
            content_range = stream.headers.get("Content-Range", "")
            if not content_range.startswith(f"bytes {self.offset}-"):
                stream.close()
                raise SourceError(f"{self.uri}: the server resumed at the wrong place ({content_range!r})")
        elif stream.status == 200:
            if self.offset:  # no Range support: read it all again and skip what we have
                skip = self.offset
                while skip:
                    chunk = stream.read(min(skip, 1 << 20))
                    if not chunk:
                        stream.close()
                        raise SourceError(f"{self.uri}: shorter on the second read")
                    skip -= len(chunk)
            else:
                length = stream.headers.get("Content-Length")
                self.total = int(length) if length and length.isdigit() else None
        else:
            stream.close()
            raise SourceError(f"cannot fetch {self.uri}: HTTP {stream.status}")
        self._stream = stream

    def read(self, size: int = 1 << 20) -> bytes:
        data = self._file.read(size) if self._file is not None else self._read_http(size)
        if data:
            if self.hash is not None:
                self.hash.update(data)
            self.offset += len(data)
            if self.progress is not None:
                self.progress.add(len(data))
        return data

    def _read_http(self, size: int) -> bytes:
        while True:
            assert self._stream is not None
            try:
                data = self._stream.read(size)
            except TransportError as exc:
                data, why = b"", exc.reason
            else:
                why = "connection closed early"
            if data:
                return data
            if self.total is None or self.offset >= self.total:
                return b""
            self._stream.close()
            if self.resumes >= MAX_RESUMES:
                raise SourceError(f"{self.uri}: {why} at byte {self.offset} of {self.total}; "
                                  f"gave up after {self.resumes} resumes")
            self.resumes += 1
            LOG.warning("extract: %s: %s at byte %d of %d; resuming", self.uri, why, self.offset, self.total)
            time.sleep(min(2.0, 0.2 * self.resumes))
            self._connect()

    def finish(self) -> Optional[str]:
        """Check length and checksum; returns the sha256 when one was checked."""
        self.close()
        digest = self.hash.hexdigest() if self.hash is not None else None
        if self.total is not None and self.offset != self.total:
            raise SourceError(f"{self.uri}: got {self.offset} bytes, expected {self.total}")
        if self.expected and digest != self.expected:
            raise SourceError(f"{self.uri}: sha256 mismatch: expected {self.expected}, got {digest}")
        if self.progress is not None:
            self.progress.finish()
        return digest

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        if self._file is not None:
            self._file.close()
            self._file = None
