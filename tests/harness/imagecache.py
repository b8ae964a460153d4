"""Content-addressed cache of built images under build/images/<name>-<key>/.

The key hashes everything the recipe is made of (its package list, suite,
script text, input files, the parent image's key, the .deb's hash), so an
unchanged recipe finds its image and a changed one builds a new directory.
A build happens in a hidden temporary directory and is renamed into place
only when complete, with its manifest written last: a directory with a
manifest is always a whole image.  An flock per image name serialises
concurrent builders (two test runs, CI and an engineer) without blocking
readers of finished images.  Older builds of the same name are pruned after
a successful build, so disk use stays at one image per name.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from typing import Any, Dict, Iterator, Optional

from .rootfs import remove_tree

MANIFEST = "manifest.json"


def recipe_key(parts: Dict[str, Any]) -> str:
    """16 hex digits of sha256 over a canonical JSON of `parts`."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class CacheSlot:
    cache_dir: str
    name: str
    key: str

    @property
    def path(self) -> str:
        return os.path.join(self.cache_dir, f"{self.name}-{self.key}")

    @property
    def manifest_path(self) -> str:
        return os.path.join(self.path, MANIFEST)

    def is_built(self) -> bool:
        return os.path.isfile(self.manifest_path)

    def manifest(self) -> Dict[str, Any]:
        with open(self.manifest_path, encoding="utf-8") as handle:
            data: Dict[str, Any] = json.load(handle)
        return data

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    @property
    def log_path(self) -> str:
        """Where the build log is written; moved into the image as build.log on success."""
        return self.path + ".log"


@contextlib.contextmanager
def name_lock(cache_dir: str, name: str) -> Iterator[None]:
    os.makedirs(cache_dir, exist_ok=True)
    with open(os.path.join(cache_dir, f".lock-{name}"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def building(slot: CacheSlot, recipe: Dict[str, Any]) -> Iterator[str]:
    """Yield a fresh work directory; on success it becomes `slot.path`.

    The caller holds `name_lock`.  On failure the work directory is removed;
    the build log, which the caller keeps beside it (`slot.log_path`), stays.
    """
    work = os.path.join(slot.cache_dir, f".tmp-{slot.name}-{slot.key}")
    remove_tree(work)
    os.makedirs(work)
    started = time.monotonic()
    try:
        yield work
    except BaseException:
        remove_tree(work)
        raise
    manifest = {"name": slot.name, "key": slot.key, "recipe": recipe,
                "build_seconds": round(time.monotonic() - started, 1),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    extra_path = os.path.join(work, ".manifest-extra.json")
    if os.path.exists(extra_path):
        with open(extra_path, encoding="utf-8") as handle:
            manifest.update(json.load(handle))
        os.unlink(extra_path)
    with open(os.path.join(work, MANIFEST), "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=1, sort_keys=True)
    remove_tree(slot.path)
    os.replace(work, slot.path)
    prune(slot)


def prune(keep: CacheSlot) -> None:
    """Drop other builds of the same name, and their logs (they can never be hit again)."""
    for path in glob.glob(os.path.join(keep.cache_dir, f"{keep.name}-*")):
        stem = os.path.basename(path)[len(keep.name) + 1:]
        if path.startswith(keep.path) or not _is_key(stem.split(".", 1)[0]):
            continue
        if os.path.isdir(path):
            shutil.rmtree(path)  # finished images hold plain files only
        elif path.endswith(".log"):
            os.unlink(path)


def _is_key(text: str) -> bool:
    return len(text) == 16 and all(c in "0123456789abcdef" for c in text)


def record_extra(work: str, data: Dict[str, Any]) -> None:
    """Facts a build learns (package versions, sizes) that go into its manifest."""
    path = os.path.join(work, ".manifest-extra.json")
    current: Dict[str, Any] = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            current = json.load(handle)
    current.update(data)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(current, handle)


def find_built(cache_dir: str, name: str, key: Optional[str] = None) -> Optional[CacheSlot]:
    """The cached image `name` (with `key`, or the newest of any key), if one is complete."""
    if key is not None:
        slot = CacheSlot(cache_dir, name, key)
        return slot if slot.is_built() else None
    found = []
    for path in glob.glob(os.path.join(cache_dir, f"{name}-*", MANIFEST)):
        stem = os.path.basename(os.path.dirname(path))[len(name) + 1:]
        if _is_key(stem):
            found.append((os.path.getmtime(path), CacheSlot(cache_dir, name, stem)))
    return max(found, key=lambda item: item[0])[1] if found else None
