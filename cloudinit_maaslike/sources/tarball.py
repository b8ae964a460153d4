"""Extract a root tarball straight from the stream into the target.

No temporary file: bytes flow from the socket through the decompressor and
the guard into GNU tar, which keeps owners (numerically), modes, xattrs,
ACLs, hard links, sparse files and device nodes.
"""

from __future__ import annotations

import os
import subprocess
from typing import Optional

from .pipeline import Decompressed, pump
from .reader import SourceError, SourceReader
from .targuard import HostileArchive, TarGuard

TAR_EXTRACT = ["tar", "--extract", "--file=-", "--numeric-owner", "--same-owner",
               "--preserve-permissions", "--xattrs", "--xattrs-include=*", "--acls",
               "--warning=no-unknown-keyword"]
# Without root (a demo into a directory) owners cannot be kept: files become the
# user's, and only user.* xattrs can be set.
TAR_EXTRACT_UNPRIVILEGED = ["tar", "--extract", "--file=-", "--no-same-owner", "--preserve-permissions",
                            "--xattrs", "--xattrs-include=user.*", "--warning=no-unknown-keyword"]


def _read_exact(fd: int, count: int) -> bytes:
    parts = []
    while count:
        data = os.read(fd, count)
        if not data:
            break
        parts.append(data)
        count -= len(data)
    return b"".join(parts)


def splice_through(src: int, dst: int, guard: TarGuard) -> None:
    """Move the stream from one pipe to the other, showing the guard only headers.

    File data goes kernel to kernel with splice(2): for a root image nearly all
    the bytes never enter Python, so the guard costs almost nothing.
    """
    while True:
        skip = guard.passthrough
        while skip:
            moved = os.splice(src, dst, min(skip, 1 << 20))
            if not moved:
                return  # the stream ended inside a member: tar reports it
            guard.passed(moved)
            skip -= moved
        if guard.ended:
            # tar stops reading at the end-of-archive blocks and may be gone: the
            # trailing padding is drained here, never written to it.
            while os.read(src, 1 << 20):
                pass
            return
        block = _read_exact(src, 512)
        if not block:
            return
        guard.feed(block)  # refuses before tar sees the hostile header
        view = memoryview(block)
        while view:
            view = view[os.write(dst, view):]


def extract_tarball(reader: SourceReader, target: str) -> Optional[str]:
    """Extract into `target`; returns the sha256 of what was downloaded."""
    source = Decompressed(reader)
    command = TAR_EXTRACT if os.geteuid() == 0 else TAR_EXTRACT_UNPRIVILEGED
    tar = subprocess.Popen([*command, "--directory", target], stdin=subprocess.PIPE,
                           stderr=subprocess.PIPE, bufsize=0)
    guard = TarGuard()
    assert tar.stdin is not None and tar.stderr is not None

    def into_tar(data: bytes) -> None:
        if guard.ended:
            return  # trailing padding: tar has stopped reading
        guard.feed(data)  # refuses before tar sees the hostile header
        try:
            tar.stdin.write(data)  # type: ignore[union-attr]
        except BrokenPipeError:
            if not guard.ended:
                raise

    try:
        if source.process is not None and hasattr(os, "splice"):
            assert source.process.stdout is not None
            splice_through(source.process.stdout.fileno(), tar.stdin.fileno(), guard)
        else:
            pump(source, into_tar)
        tar.stdin.close()
        digest = source.finish()
    except (HostileArchive, SourceError, BrokenPipeError) as exc:
        source.abort()
        tar.kill()
        tar.wait()
        if isinstance(exc, BrokenPipeError):
            raise SourceError(f"{reader.uri}: tar stopped: {tar.stderr.read().decode(errors='replace').strip()}"
                              ) from None
        raise
    returncode = tar.wait()
    if returncode != 0:
        message = tar.stderr.read().decode("utf-8", "replace").strip().splitlines()
        raise SourceError(f"{reader.uri}: tar failed (exit {returncode}): {message[-1] if message else ''}")
    if guard.members == 0:
        raise SourceError(f"{reader.uri}: not a tar archive (no members)")
    return digest
