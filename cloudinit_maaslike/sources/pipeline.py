"""Stream a source through a decompressor into a consumer, failing loudly.

The fetch runs on its own thread (network and sha256), the decompressor in
its own process (another core), and the caller consumes the plain bytes.
Every part's failure is caught and reported: a download that stops, a
decompressor that exits non-zero, a consumer that fails; curtin's
``wget | tar | dd`` without pipefail hides all of these.
"""

from __future__ import annotations

import fcntl
import os
import queue
import threading
from typing import Callable, List, Optional

from .. import runner
from .compression import decompressor, sniff
from .reader import SourceError, SourceReader

CHUNK = 1 << 20
PIPE_SIZE = 1 << 20


def widen_pipe(fd: int) -> None:
    """1 MiB pipes: fewer wake-ups between the fetch, the decompressor and tar."""
    try:
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_SIZE)
    except OSError:
        pass  # over /proc/sys/fs/pipe-max-size: the default works, only slower


class Decompressed:
    """Plain bytes of a source, read with `read` until it returns b''."""

    def __init__(self, reader: SourceReader):
        self.reader = reader
        self.head = reader.read(CHUNK)
        self.compression = sniff(self.head)
        self.process: Optional[runner.Popen[bytes]] = None
        self._feeder: Optional[threading.Thread] = None
        self._error: List[BaseException] = []
        self._chunks: queue.Queue[bytes] = queue.Queue(maxsize=16)
        if not self.compression:
            # Plain data: read (network or disk, and hash) on a thread of its
            # own, so the caller's writes overlap the reads.
            self._feeder = threading.Thread(target=self._read_ahead, name="source-reader", daemon=True)
            self._feeder.start()
        if self.compression:
            command = decompressor(self.compression)
            try:
                self.process = runner.spawn(command, stdin=runner.PIPE, stdout=runner.PIPE,
                                            stderr=runner.PIPE, bufsize=0)
            except runner.ProgramNotStarted:
                raise SourceError(f"{reader.uri}: {command[0]} is needed for {self.compression} data") from None
            assert self.process.stdin is not None and self.process.stdout is not None
            widen_pipe(self.process.stdin.fileno())
            widen_pipe(self.process.stdout.fileno())
            self._feeder = threading.Thread(target=self._feed, name="source-feeder", daemon=True)
            self._feeder.start()

    def _feed(self) -> None:
        assert self.process is not None and self.process.stdin is not None
        try:
            data = self.head
            while data:
                self.process.stdin.write(data)
                data = self.reader.read(CHUNK)
        except BrokenPipeError:
            pass  # the decompressor stopped; its exit status tells why
        except BaseException as exc:  # noqa: BLE001 - reported by finish()
            self._error.append(exc)
        finally:
            try:
                self.process.stdin.close()
            except OSError:
                pass

    def _read_ahead(self) -> None:
        try:
            data = self.head
            while data:
                self._chunks.put(data)
                data = self.reader.read(4 * CHUNK)
        except BaseException as exc:  # noqa: BLE001 - reported by finish()
            self._error.append(exc)
        finally:
            self._chunks.put(b"")

    def read(self, size: int = CHUNK) -> bytes:
        if self.process is None:
            if self._error and self._chunks.empty():
                raise self._error[0]
            data = self._chunks.get()
            if not data:
                self._chunks.put(b"")  # stay at the end for later reads
                if self._error:
                    raise self._error[0]
            return data
        assert self.process.stdout is not None
        return os.read(self.process.stdout.fileno(), size)

    def finish(self) -> Optional[str]:
        """Wait for every part; raise for the first that failed. Returns the sha256."""
        if self.process is None and self._feeder is not None:
            self._feeder.join()
            if self._error:
                raise self._error[0]
        if self.process is not None:
            assert self.process.stdout is not None and self.process.stderr is not None
            while self.process.stdout.read(CHUNK):  # drain, so the decompressor can end
                pass
            if self._feeder is not None:
                self._feeder.join()
            returncode = self.process.wait()
            errors = self.process.stderr.read().decode("utf-8", "replace").strip()
            if self._error:
                raise self._error[0]
            if returncode != 0:
                raise SourceError(f"{self.reader.uri}: {self.compression} data is damaged "
                                  f"({errors.splitlines()[-1] if errors else f'exit {returncode}'})")
        return self.reader.finish()

    def abort(self) -> None:
        self.reader.close()
        while self.process is None and self._feeder is not None and self._feeder.is_alive():
            try:  # unblock the read-ahead thread so it can end
                self._chunks.get(timeout=0.1)
            except queue.Empty:
                pass
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.reader.close()


def pump(source: Decompressed, sink: Callable[[bytes], None]) -> int:
    """Copy everything from `source` to `sink`; returns the byte count."""
    total = 0
    while True:
        data = source.read(CHUNK)
        if not data:
            return total
        sink(data)
        total += len(data)
