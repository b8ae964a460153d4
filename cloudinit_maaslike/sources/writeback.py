"""Start writing extracted files to disk while the extraction is still running.

The page cache holds gigabytes of dirty data before the kernel starts writing
it back on its own, so an extraction would otherwise end with the whole root
still in memory and the install would wait for all of it at the final sync or
unmount. While tar is busy creating files, a thread calls syncfs(2) on the
target filesystem over and over. The disk then works at the same time as the
CPU, and the final flush has little left to do. A dd image written to a disk
gets the same treatment with fdatasync(2) on the disk itself.
"""

from __future__ import annotations

import ctypes
import os
import threading
from types import TracebackType
from typing import Callable, Optional, Type

INTERVAL = 0.25  # seconds between flushes: small enough to keep the disk busy


def _syncfs_function() -> Optional[Callable[[int], int]]:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        function: Callable[[int], int] = libc.syncfs
        return function
    except (OSError, AttributeError):
        return None


class EarlyWriteback:
    """`with EarlyWriteback(target):` flushes the target's filesystem in the background.

    `device_fd`: flush that open block device instead (fdatasync), for dd images.
    """

    def __init__(self, path: str = "", interval: float = INTERVAL, device_fd: Optional[int] = None):
        self.path = path
        self.device_fd = device_fd
        self.interval = interval
        self.flushes = 0
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._fd: Optional[int] = None

    def __enter__(self) -> EarlyWriteback:
        flush: Optional[Callable[[int], object]]
        if self.device_fd is not None:
            fd, flush = self.device_fd, os.fdatasync  # releases the GIL too
        else:
            flush = _syncfs_function()
            if flush is None:
                return self  # no syncfs: the kernel's own writeback will do, only later
            self._fd = fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)

        def loop() -> None:
            while not self._stop.wait(self.interval):
                try:
                    flush(fd)  # outside the GIL: tar and the pump keep going
                except OSError:
                    return  # a write error: the final fsync or sync reports it to the install
                self.flushes += 1

        self._thread = threading.Thread(target=loop, name="early-writeback", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, kind: Optional[Type[BaseException]], value: Optional[BaseException],
                 traceback: Optional[TracebackType]) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._fd is not None:
            os.close(self._fd)
