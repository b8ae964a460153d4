"""File writes done off the event loop, in the order they were asked for.

One asyncio thread answers every node; a state change is saved with an
fsync, and an fsync on a busy disk (an image being written next door) can
take tens of milliseconds, during which no node gets an answer.  So the
server hands its writes to one thread: what nodes see (the in-memory record)
changes at once, the files follow in order, and shutdown waits for them.
Tools and tests that use the API directly write immediately instead.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any, Callable, Optional, Protocol, Tuple

LOG = logging.getLogger(__name__)

Job = Tuple[Callable[..., Any], Tuple[Any, ...]]


class Writer(Protocol):
    def submit(self, fn: Callable[..., Any], *args: Any) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class Immediate:
    """Writes at once, on the caller's thread."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        fn(*args)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class DiskWriter:
    """Writes on a thread of its own; `flush` waits for everything submitted so far."""

    def __init__(self, gather: float = 0.05) -> None:
        # Waking this thread for each event would cost the event loop a GIL
        # hand-over each time; after the first job it waits `gather` seconds
        # and then does everything that arrived meanwhile.
        self._gather = gather
        self._queue: queue.Queue[Optional[Job]] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="maaslike-disk", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        self._queue.put((fn, args))

    def flush(self) -> None:
        self._queue.join()

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is not None and self._gather and self._queue.empty():
                time.sleep(self._gather)
            try:
                if job is None:
                    return
                fn, args = job
                try:
                    fn(*args)
                except OSError as exc:
                    # The record in memory is still right; say which file lags behind.
                    where = args[0] if args and isinstance(args[0], str) else exc.filename
                    reason = exc.strerror or str(exc)
                    if exc.filename and exc.filename != where:
                        reason += f" ({exc.filename})"
                    LOG.error("cannot write %s: %s", where, reason)
            finally:
                self._queue.task_done()
