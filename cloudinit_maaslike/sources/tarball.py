"""Extract a root tarball straight from the stream into the target.

No temporary file: bytes flow from the socket through the decompressor and
the guard into GNU tar, which keeps owners (numerically), modes, xattrs,
ACLs, hard links, sparse files and device nodes.
"""

from __future__ import annotations

import os
from typing import Optional

from .. import runner
from .pipeline import Decompressed, pump, widen_pipe
from .reader import SourceError, SourceReader
from .targuard import HostileArchive, TarGuard
from .writeback import EarlyWriteback

TAR_EXTRACT = ["tar", "--extract", "--file=-", "--numeric-owner", "--same-owner",
               "--preserve-permissions", "--xattrs", "--xattrs-include=*", "--acls",
               "--warning=no-unknown-keyword"]
# Without root (a demo into a directory) owners cannot be kept: files become the
# user's, and only user.* xattrs can be set.
TAR_EXTRACT_UNPRIVILEGED = ["tar", "--extract", "--file=-", "--no-same-owner", "--preserve-permissions",
                            "--xattrs", "--xattrs-include=user.*", "--warning=no-unknown-keyword"]


SPLICE_AT_LEAST = 256 << 10


def splice_through(src: int, dst: int, guard: TarGuard) -> None:
    """Move the stream from one pipe to the other, the guard seeing every header.

    Small members go through in 1 MiB reads (many headers per system call);
    the bulk of a large member goes kernel to kernel with splice(2), never
    entering Python.  A chunk is written on only after the guard has read it,
    so tar never sees a header the guard refused.
    """
    while True:
        skip = guard.passthrough
        if skip >= SPLICE_AT_LEAST:
            while skip:
                moved = os.splice(src, dst, min(skip, 1 << 20))
                if not moved:
                    return  # the stream ended inside a member: tar reports it
                guard.passed(moved)
                skip -= moved
            continue
        if guard.ended:
            # tar stops reading at the end-of-archive blocks and may be gone: the
            # trailing padding is drained here, never written to it.
            while os.read(src, 1 << 20):
                pass
            return
        data = os.read(src, 1 << 20)
        if not data:
            return
        guard.feed(data)
        if guard.ended:
            data = data[:len(data) - guard.trailing]
        view = memoryview(data)
        while view:
            view = view[os.write(dst, view):]


_TAR_SUMMARIES = ("Exiting with failure status", "Error is not recoverable")


def tar_reason(stderr: str) -> str:
    """tar's first real complaint (``Cannot write: No space left on device``), not its closing summary."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    real = [line for line in lines if not any(summary in line for summary in _TAR_SUMMARIES)]
    if not real:
        return lines[-1] if lines else "no output"
    more = f" (and {len(real) - 1} more error(s))" if len(real) > 1 else ""
    return real[0] + more


def _space_left(target: str) -> str:
    """GNU tar reports a full disk as a short write; say it plainly."""
    try:
        info = os.statvfs(target)
    except OSError:
        return ""
    free = info.f_bavail * info.f_frsize
    return f"; No space left on device: the target has {free >> 10} KiB free" if free < (1 << 20) else ""


def extract_tarball(reader: SourceReader, target: str) -> Optional[str]:
    """Extract into `target`; returns the sha256 of what was downloaded."""
    source = Decompressed(reader)
    command = TAR_EXTRACT if os.geteuid() == 0 else TAR_EXTRACT_UNPRIVILEGED
    tar = runner.spawn([*command, "--directory", target], stdin=runner.PIPE, stderr=runner.PIPE, bufsize=0)
    guard = TarGuard()
    assert tar.stdin is not None and tar.stderr is not None
    widen_pipe(tar.stdin.fileno())

    def into_tar(data: bytes) -> None:
        if guard.ended:
            return  # trailing padding: tar has stopped reading
        guard.feed(data)  # refuses before tar sees the hostile header
        try:
            tar.stdin.write(data)  # type: ignore[union-attr]
        except BrokenPipeError:
            if not guard.ended:
                raise

    with EarlyWriteback(target):
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
                raise SourceError(f"{reader.uri}: tar stopped: "
                                  f"{tar.stderr.read().decode(errors='replace').strip()}") from None
            raise
        returncode = tar.wait()
    if returncode != 0:
        reason = tar_reason(tar.stderr.read().decode("utf-8", "replace")) + _space_left(target)
        raise SourceError(f"{reader.uri}: tar failed (exit {returncode}): {reason}")
    if guard.members == 0:
        raise SourceError(f"{reader.uri}: not a tar archive (no members)")
    return digest
