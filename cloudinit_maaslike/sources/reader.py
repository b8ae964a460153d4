"""Read a source's bytes in order, from HTTP or a file, checking as they pass.

Over HTTP a dropped connection is resumed with a Range request from the byte
it stopped at (a server without Range support is read again and the start
skipped), up to a few times; the sha256 (given, or found in a SHA256SUMS file
next to the image) is computed while streaming and checked at the end; and
the length is checked against Content-Length, so a truncated download can
never pass for a complete one.

A download that stalls is resumed too, and given up on: see `StallWatch`
and ``install: download_*`` (`DownloadSettings`).  A server that drips a
byte now and then, or sends nothing at all, ends the stage in a bounded time
(about 90 s with the defaults) with one line saying where it stopped.
"""

from __future__ import annotations

import hashlib
import logging
import os
import posixpath
import time
from contextlib import contextmanager
from typing import IO, Callable, Iterator, List, Optional
from urllib.parse import urlsplit, urlunsplit

from ..config.model import DownloadSettings
from ..errors import MaaslikeError
from ..httpclient import HttpClient, Stream, TransportError
from .progress import Progress

LOG = logging.getLogger("cloudinit_maaslike.install")
MAX_RESUMES = 5  # after a dropped connection; stalls are counted apart
SUMS_SECONDS = 10.0  # the most a SHA256SUMS file may take
SUMS_MAX_BYTES = 1 << 20
GATHER_SECONDS = 0.5  # a read returns what came by then, even if less than asked
# One socket read asks for at most PIECE_BYTES (a larger buffer costs more to
# allocate than it saves); a read gathers pieces up to GATHER_BYTES.
PIECE_BYTES = 1 << 20
GATHER_BYTES = 256 << 10


class SourceError(MaaslikeError):
    exit_code = 3


def _sums_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, posixpath.join(posixpath.dirname(parts.path),
                                                                  "SHA256SUMS"), "", ""))


def sha256_from_sums(client: HttpClient, url: str, timeout: float = SUMS_SECONDS) -> Optional[str]:
    """The image's sha256 from a SHA256SUMS file in the same directory, if any.

    `timeout` bounds the whole request: a slow or endless SHA256SUMS counts as none.
    """
    try:
        response = client.request("GET", _sums_url(url), timeout=timeout,
                                  deadline=time.monotonic() + timeout, max_bytes=SUMS_MAX_BYTES)
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


def rate_text(rate: float) -> str:
    if rate >= 1 << 20:
        return f"{rate / (1 << 20):g} MiB/s"
    if rate >= 1 << 10:
        return f"{rate / (1 << 10):g} KiB/s"
    return f"{rate:g} bytes/s"


class StallWatch:
    """Is the network keeping up?  Only time spent waiting on it counts.

    Every ``stall_seconds`` of waiting must bring at least ``min_rate *
    stall_seconds`` bytes (at least one byte): each time that many have come,
    the next ones are due ``stall_seconds`` later.  Time the reader spends
    away (the consumer writing to a slow disk, say) is not counted, so back
    pressure is never mistaken for a stall, and a stall is seen
    ``stall_seconds`` after it began, however the bytes trickle in.
    """

    def __init__(self, settings: DownloadSettings, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.window = settings.stall_seconds
        self.need = max(1, int(settings.min_rate * settings.stall_seconds))
        self._spent = 0.0  # seconds waited, before the current wait
        self._since: Optional[float] = None  # when the current wait began
        self._mark = 0.0
        self.got = 0  # bytes since the mark
        self.restart()

    def now(self) -> float:
        current = self.clock() - self._since if self._since is not None else 0.0
        return self._spent + current

    @contextmanager
    def waiting(self) -> Iterator[None]:
        self._since = self.clock()
        try:
            yield
        finally:
            self._spent += self.clock() - self._since
            self._since = None

    def restart(self) -> None:
        self._mark = self.now()
        self.got = 0

    def add(self, count: int) -> bool:
        """Count bytes that came; True when they complete a window's worth."""
        self.got += count
        if self.got >= self.need:
            self.restart()
            return True
        return False

    def left(self) -> float:
        """Seconds of waiting left before the download counts as stalled."""
        return self._mark + self.window - self.now()

    def expired(self) -> bool:
        return self.left() <= 0.01


class SourceReader:
    def __init__(self, uri: str, sha256: Optional[str] = None, progress: Optional[Progress] = None,
                 client: Optional[HttpClient] = None, timeout: Optional[float] = None,
                 look_for_sums: bool = True, stall: Optional[DownloadSettings] = None):
        self.uri = uri
        self.expected = sha256.lower() if sha256 else None
        self.progress = progress
        self.client = client or HttpClient()
        self.stall = stall or DownloadSettings()
        # The longest single wait on the socket; the stall window bounds it anyway.
        self.timeout = timeout if timeout is not None else self.stall.stall_seconds
        self.look_for_sums = look_for_sums
        self.hash: Optional[hashlib._Hash] = None  # only when there is a sum to check
        self.offset = 0
        self.total: Optional[int] = None
        self.resumes = 0  # after dropped connections
        self.stalls = 0  # stalls in a row, each resumed
        self._file: Optional[IO[bytes]] = None
        self._stream: Optional[Stream] = None
        self._watch = StallWatch(self.stall)
        self._broken: Optional[str] = None  # why the last connection ended early
        self._skip = 0  # bytes to drop: a resume from a server without Range support
        self._eof = False
        self._closed = False

    @property
    def is_http(self) -> bool:
        return self.uri.startswith(("http://", "https://"))

    def open(self) -> Optional[int]:
        """Start reading; returns the total size when known."""
        if self.is_http:
            with self._watch.waiting():
                if self.expected is None and self.look_for_sums:
                    self.expected = sha256_from_sums(self.client, self.uri,
                                                     max(min(SUMS_SECONDS, self._watch.left()), 0.1))
                    if self.expected:
                        LOG.info("extract: checking %s against SHA256SUMS", self.uri)
                while self._stream is None:
                    if self._watch.expired():
                        self._stalled()
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
        """A new connection from `offset`; leaves none when the stall window ran out meanwhile."""
        headers = {"Range": f"bytes={self.offset}-"} if self.offset else {}
        self._skip = 0
        left = max(self._watch.left(), 0.01)
        try:
            stream = self.client.stream(self.uri, headers=headers, timeout=min(self.timeout, left),
                                        deadline=time.monotonic() + left)
        except TransportError as exc:
            if self._watch.expired():
                return  # a stall: the caller resumes or gives up
            raise SourceError(f"cannot fetch {self.uri}: {exc.reason}") from None
        if stream.status == 206 and self.offset:
            content_range = stream.headers.get("Content-Range", "")
            if not content_range.startswith(f"bytes {self.offset}-"):
                stream.close()
                raise SourceError(f"{self.uri}: the server resumed at the wrong place ({content_range!r})")
        elif stream.status == 200:
            self._skip = self.offset  # no Range support: read it all again and skip what we have
            if not self.offset:
                length = stream.headers.get("Content-Length")
                self.total = int(length) if length and length.isdigit() else None
                if self.progress is not None:
                    self.progress.total = self.total
        else:
            stream.close()
            raise SourceError(f"cannot fetch {self.uri}: HTTP {stream.status}")
        self._stream = stream

    def _where(self) -> str:
        return f"byte {self.offset}" + (f" of {self.total}" if self.total is not None else "")

    def _stalled(self) -> None:
        """The stall window ran out: resume afresh, or give up after `stall_retries` in a row."""
        settings = self.stall
        if settings.min_rate:
            why = (f"{self._watch.got} bytes in the last {settings.stall_seconds:g} s, under the "
                   f"{rate_text(settings.min_rate)} floor")
        else:
            why = f"no data for {settings.stall_seconds:g} s"
        self._drop_stream()
        if self.stalls >= settings.stall_retries:
            raise SourceError(
                f"{self.uri}: download stalled at {self._where()} ({why}); gave up after "
                f"{self.stalls} resume{'' if self.stalls == 1 else 's'} "
                "(install.download_stall_seconds, download_min_rate, download_stall_retries)")
        self.stalls += 1
        LOG.warning("extract: %s: stalled at %s (%s); resuming (%d of %d)", self.uri, self._where(), why,
                    self.stalls, settings.stall_retries)
        self._watch.restart()

    def _dropped(self, why: str) -> None:
        self._drop_stream()
        if self.resumes >= MAX_RESUMES:
            raise SourceError(f"{self.uri}: {why} at {self._where()}; gave up after {self.resumes} resumes")
        self.resumes += 1
        LOG.warning("extract: %s: %s at %s; resuming", self.uri, why, self._where())
        time.sleep(min(2.0, 0.2 * self.resumes, max(self._watch.left(), 0.0)))

    def _drop_stream(self) -> None:
        stream, self._stream = self._stream, None  # close() may come from another thread
        if stream is not None:
            stream.close()

    def read(self, size: int = 1 << 20) -> bytes:
        if self._file is not None:
            data = self._file.read(size)
            self.offset += len(data)
        else:
            data = self._read_http(size)
        if data:
            if self.hash is not None:
                self.hash.update(data)
            if self.progress is not None:
                self.progress.add(len(data))
        return data

    def _read_http(self, size: int) -> bytes:
        """Up to `size` bytes (fewer when the network is slow or fails; b'' at the end)."""
        pieces: List[bytes] = []
        count = 0
        watch = self._watch
        began = time.monotonic()
        size = min(size, GATHER_BYTES)
        with watch.waiting():
            while count < size and not self._eof:
                if self._closed:  # by another thread: an aborted pipeline
                    self._drop_stream()
                    raise SourceError(f"{self.uri}: download cancelled at {self._where()}")
                if watch.expired():
                    if count:
                        break  # hand over what came; the stall is dealt with on the next read
                    self._stalled()
                    continue
                stream = self._stream
                if stream is None:
                    if self._broken is not None:
                        if count:
                            break
                        why, self._broken = self._broken, None
                        self._dropped(why)
                    self._connect()
                    continue
                if count and time.monotonic() - began >= GATHER_SECONDS:
                    break  # a slow network: hand over what came, so progress shows
                try:
                    piece = stream.read_some(min(size - count + self._skip, PIECE_BYTES),
                                             timeout=min(self.timeout, watch.left()))
                except TransportError as exc:
                    self._drop_stream()
                    if not watch.expired():  # a stall is not a drop
                        self._broken = exc.reason
                    continue
                if not piece:
                    if self._skip or (self.total is not None and self.offset < self.total):
                        self._drop_stream()
                        self._broken = "connection closed early"
                        continue
                    self._eof = True
                    break
                if watch.add(len(piece)):
                    self.stalls = 0  # a window's worth came: the next stall is a first one
                if self._skip:
                    dropped = min(self._skip, len(piece))
                    self._skip -= dropped
                    piece = piece[dropped:]
                    if not piece:
                        continue
                pieces.append(piece)
                count += len(piece)
                self.offset += len(piece)
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

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
        self._closed = True
        self._drop_stream()
        if self._file is not None:
            self._file.close()
            self._file = None
