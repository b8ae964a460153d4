"""What the server remembers about each node: status, netboot, events, signals.

Kept in ``<state-dir>/nodes/<system_id>/``: ``state.json`` (rewritten
atomically on each change), ``events.jsonl`` (appended, one JSON object a
line) and ``files/`` (what events and signals attached, decoded, 0600), so a
restart keeps everything.  Attached files are streamed to disk as they are
decoded, never held whole in memory, within two caps (`AttachmentLimits`):
decoded bytes per event and bytes kept per node; past either, nothing of the
event is kept.  The running server writes through a `DiskWriter`
thread: the record in memory changes at once, the files a moment later, and
a crash loses at most what was still queued (a torn last line is skipped).

Nothing in ``state.json`` or ``events.jsonl`` holds a secret: attached
files, which may be install logs with credentials in them, are stored apart
and listed by name and size only.

A status the node reached survives restarts; editing the node's status in
the inventory resets it (the stored state remembers which inventory status
it started from).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

from ..privatefile import make_private_dir, write_private
from .diskwriter import Immediate, Writer
from .eventfiles import AttachmentLimits, AttachmentTooLarge, check_file_count
from .statuses import normalise_status
from .transitions import Outcome

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_NUMBERED = re.compile(r"^([0-9]+)-")
_PARTIAL = ".partial-"  # an attached file still being written


def _append(path: str, line: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


class NodeRecord:
    def __init__(self, directory: str, status: str, writer: Optional[Writer] = None):
        self.directory = directory
        self.writer: Writer = writer or Immediate()
        make_private_dir(directory)
        self._lock = threading.Lock()
        self._state_path = os.path.join(directory, "state.json")
        self._events_path = os.path.join(directory, "events.jsonl")
        self._files_dir = os.path.join(directory, "files")
        state = self._load_state()
        self.inventory_status = status
        if state.get("inventory_status", status) != status:
            state = {}  # the operator changed the inventory: start over from it
        self.status: str = normalise_status(state.get("status", status)) or status
        self.netboot: bool = bool(state.get("netboot", True))
        self.error: str = str(state.get("error", ""))
        self.error_description: str = str(state.get("error_description", ""))
        self.events: List[Dict[str, Any]] = self._load_events()
        self._unwritten: List[bytes] = []
        self._write_queued = False
        self._last_number, self.attached_bytes = self._scan_files()

    def _load_state(self) -> Dict[str, Any]:
        try:
            with open(self._state_path, encoding="utf-8") as handle:
                data = json.load(handle)
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError, RecursionError):
            return {}

    def _load_events(self) -> List[Dict[str, Any]]:
        events = []
        try:
            with open(self._events_path, encoding="utf-8") as handle:
                for line in handle:
                    try:
                        events.append(json.loads(line))
                    except (ValueError, RecursionError):
                        continue  # a torn last line after a crash
        except OSError:
            pass
        return events

    def _save_state(self) -> None:
        """Queue the state as it is now (called with the lock held, so saves keep their order)."""
        self.writer.submit(write_private, self._state_path, json.dumps({
            "status": self.status, "netboot": self.netboot, "error": self.error,
            "error_description": self.error_description,
            "inventory_status": self.inventory_status,
        }))

    def set(self, *, status: Optional[str] = None, netboot: Optional[bool] = None,
            error: Optional[str] = None, error_description: Optional[str] = None) -> None:
        with self._lock:
            if status is not None:
                self.status = status
            if netboot is not None:
                self.netboot = netboot
            if error is not None:
                self.error = error
            if error_description is not None:
                self.error_description = error_description
            self._save_state()

    def apply(self, outcome: Outcome, why: str) -> None:
        """Apply a transition, and log the status move as an entry of its own."""
        if outcome.status is None and outcome.error is None and outcome.error_description is None:
            return
        before = self.status
        self.set(status=outcome.status, error=outcome.error,
                 error_description=outcome.error_description)
        if outcome.status is not None and outcome.status != before:
            self.record("status", {"status": outcome.status, "previous": before, "why": why})

    def record(self, kind: str, data: Dict[str, Any]) -> Dict[str, Any]:
        entry = {"kind": kind, "received": time.time(), **data}
        line = json.dumps(entry, sort_keys=True) + "\n"
        with self._lock:
            self.events.append(entry)
            self._unwritten.append(line.encode("utf-8"))
            queue_write = not self._write_queued  # one queued write takes every line waiting then
            self._write_queued = True
        if queue_write:
            self.writer.submit(self._write_events)
        return entry

    def _write_events(self) -> None:
        with self._lock:
            lines, self._unwritten, self._write_queued = self._unwritten, [], False
        _append(self._events_path, b"".join(lines))

    def _scan_files(self) -> Tuple[int, int]:
        """(highest file number, bytes kept) of the files dir; removes writes a crash cut short."""
        last = size = 0
        try:
            names = os.listdir(self._files_dir)
        except OSError:
            return 0, 0
        for name in names:
            path = os.path.join(self._files_dir, name)
            if name.startswith(_PARTIAL):
                try:
                    os.unlink(path)
                except OSError:
                    pass
                continue
            numbered = _NUMBERED.match(name)
            if numbered:
                last = max(last, int(numbered.group(1)))
            try:
                size += os.stat(path).st_size
            except OSError:
                pass
        return last, size

    def _check_caps(self, event_bytes: int, limits: AttachmentLimits) -> None:
        if event_bytes > limits.per_event:
            raise AttachmentTooLarge(
                f"attached files decode to more than {limits.per_event} bytes, the cap per event")
        if self.attached_bytes + event_bytes > limits.per_node:
            raise AttachmentTooLarge(
                f"attached files would take node {os.path.basename(self.directory)} past its cap of"
                f" {limits.per_node} bytes of stored files ({self.attached_bytes} kept already)")

    def store_attachments(self, files: Sequence[Tuple[str, Iterable[bytes]]],
                          limits: AttachmentLimits) -> List[Dict[str, Any]]:
        """Write each file (name, chunks) to disk (0600) as its chunks come; return what the
        events view may show (name and size).

        All or nothing: past a cap (`AttachmentTooLarge`), on a decoding error
        (`BadEventFile`, raised by the chunks) or a write error (`OSError`),
        what was written is removed and the exception goes on.
        """
        if not files:
            return []
        check_file_count(len(files))
        make_private_dir(self._files_dir)
        partials: List[str] = []
        sizes: List[int] = []
        total = 0
        try:
            for _, chunks in files:
                fd, partial = tempfile.mkstemp(prefix=_PARTIAL, dir=self._files_dir)  # 0600
                partials.append(partial)
                size = 0
                with os.fdopen(fd, "wb") as handle:
                    for chunk in chunks:
                        size += len(chunk)
                        total += len(chunk)
                        self._check_caps(total, limits)  # before the bytes land
                        handle.write(chunk)
                    handle.flush()
                    os.fsync(handle.fileno())
                sizes.append(size)
            with self._lock:
                self._check_caps(total, limits)  # again: another event may have stored files meanwhile
                self.attached_bytes += total
                first = self._last_number + 1
                self._last_number += len(files)
            listed = []
            for number, (name, _), size in zip(range(first, first + len(files)), files, sizes):
                base = _UNSAFE.sub("_", os.path.basename(name)).lstrip(".")[:100] or "file"
                os.replace(partials[0], os.path.join(self._files_dir, f"{number:05d}-{base}"))
                partials.pop(0)
                listed.append({"name": name, "size": size})
            return listed
        finally:
            for partial in partials:
                try:
                    os.unlink(partial)
                except OSError:
                    pass

    def snapshot(self) -> Dict[str, Any]:
        with self._lock:
            return {
                "status": self.status,
                "netboot": self.netboot,
                "error": self.error,
                "error_description": self.error_description,
                "events": list(self.events),
            }
