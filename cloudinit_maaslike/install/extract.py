"""The extract stage's built-in: `curtin extract`: fill the target from the sources.

Sources run in order (sorted keys, or list order).  Root tarballs stream into
the target; filesystem images are mounted and copied; ``cp://`` copies a
directory; a dd image is written onto the install disk (the grub_device disk
of the storage config, a listed device, or the first suitable disk) and its
root partition mounted on the target for the stages that follow.
"""

from __future__ import annotations

import functools
import time
from typing import Optional, Sequence

from ..sources.ddimage import mount_image_root, write_image
from ..sources.fsimage import copy_tree, extract_fsimage
from ..sources.progress import Progress
from ..sources.reader import SourceError, SourceReader
from ..sources.spec import TARBALL_KINDS, Source
from ..sources.tarball import extract_tarball
from ..storage.simple import BlockMetaSettings, choose_disk
from .context import StepContext


def _reader(ctx: StepContext, source: Source, uri: Optional[str] = None,
            sha256: Optional[str] = None) -> SourceReader:
    progress = Progress(f"extract {source.name}", None, ctx.notify)
    return SourceReader(uri or source.uri, sha256 if uri else source.sha256, progress,
                        stall=ctx.config.install.download)


def extract(ctx: StepContext, args: Sequence[str]) -> None:
    sources = ctx.config.parsed("sources", ())
    if not sources:
        raise SourceError("extract: no source to install (give one on the command line or in sources:)")
    target = ctx.work.target
    for source in sources:
        started = time.monotonic()
        ctx.log.info("extract: %s from %s", source.kind, source.uri)
        if source.kind == "cp":
            copy_tree(source.local_path if source.uri.startswith("file://") else source.uri, target,
                      ctx.config.install.extra_rsync_args)
        elif source.kind in TARBALL_KINDS:
            reader = _reader(ctx, source)
            reader.open()
            digest = extract_tarball(reader, target)
            if digest:
                ctx.log.info("extract: %s verified (sha256 %s)", source.uri, digest)
        elif source.kind.startswith("fsimage"):
            extract_fsimage(source.uri, source.sha256, target, source.kind == "fsimage-layered",
                            functools.partial(_reader, ctx, source), ctx.config.install.extra_rsync_args)
        else:
            disk = choose_disk(ctx.config.parsed("storage"), ctx.config.parsed("block-meta", BlockMetaSettings()))
            ctx.log.info("extract: writing the %s image onto %s", source.kind, disk.path)
            reader = _reader(ctx, source)
            reader.open()
            write_image(reader, source.kind, disk)
            root = mount_image_root(disk, target)
            if root is None:
                # Windows, ESXi and raw images: nothing for Linux curthooks to configure.
                ctx.log.warning("extract: no partition of the image on %s holds a Linux root; "
                                "the later stages see an empty target", disk.path)
            else:
                ctx.log.info("extract: the image's root %s is mounted on the target", root)
        ctx.log.info("extract: %s done in %.1f s", source.name, time.monotonic() - started)
