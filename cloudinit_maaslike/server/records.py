"""What the server remembers about each node: status, netboot, events, signals.

Kept in ``<state-dir>/nodes/<system_id>/``: ``state.json`` (rewritten
atomically on each change) and ``events.jsonl`` (appended), so a restart
keeps everything and a crash mid-write loses at most the line being written.
Nothing stored here holds a secret: events are stored as the node sent them,
minus any attached files' content, which is summarised by name and size.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any, Dict, List, Optional

from ..privatefile import make_private_dir, write_private


class NodeRecord:
    def __init__(self, directory: str, status: str):
        self.directory = directory
        make_private_dir(directory)
        self._lock = threading.Lock()
        self._state_path = os.path.join(directory, "state.json")
        self._events_path = os.path.join(directory, "events.jsonl")
        state = self._load_state()
        self.status: str = state.get("status", status)
        self.netboot: bool = state.get("netboot", True)
        self.error: str = state.get("error", "")
        self.events: List[Dict[str, Any]] = self._load_events()

    def _load_state(self) -> Dict[str, Any]:
        try:
            with open(self._state_path, encoding="utf-8") as handle:
                data = json.load(handle)
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def _load_events(self) -> List[Dict[str, Any]]:
        events = []
        try:
            with open(self._events_path, encoding="utf-8") as handle:
                for line in handle:
                    try:
                        events.append(json.loads(line))
                    except ValueError:
                        continue  # a torn last line after a crash
        except OSError:
            pass
        return events

    def _save_state(self) -> None:
        write_private(
            self._state_path,
            json.dumps({"status": self.status, "netboot": self.netboot, "error": self.error}),
        )

    def set(self, *, status: Optional[str] = None, netboot: Optional[bool] = None,
            error: Optional[str] = None) -> None:
        with self._lock:
            if status is not None:
                self.status = status
            if netboot is not None:
                self.netboot = netboot
            if error is not None:
                self.error = error
            self._save_state()

    def record(self, kind: str, data: Dict[str, Any]) -> Dict[str, Any]:
        entry = {"kind": kind, "received": time.time(), **data}
        line = json.dumps(entry, sort_keys=True) + "\n"
        with self._lock:
            self.events.append(entry)
            fd = os.open(self._events_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode("utf-8"))
            finally:
                os.close(fd)
        return entry

    def snapshot(self) -> Dict[str, Any]:
        with self._lock:
            return {
                "status": self.status,
                "netboot": self.netboot,
                "error": self.error,
                "events": list(self.events),
            }


def summarise_files(files: Any) -> List[Dict[str, Any]]:
    """Attached files (base64 content) reduced to path and size for storage."""
    out = []
    if isinstance(files, list):
        for entry in files:
            if isinstance(entry, dict):
                content = entry.get("content") or ""
                out.append({"path": entry.get("path"), "encoding": entry.get("encoding"),
                            "size": len(content) if isinstance(content, str) else None})
    return out
