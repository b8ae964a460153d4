"""Run commands inside the target, as `curtin in-target` does.

For the duration: /dev, /dev/pts, /proc, /sys, /run (and efivars on UEFI)
are bound into the target, a ``policy-rc.d`` that exits 101 keeps package
scripts from starting daemons, and the host's resolv.conf stands in for the
target's.  Afterwards everything is undone in reverse order, even when the
command or a step of the set-up failed.  The command runs in a new PID
namespace (`unshare --fork --pid`), so anything it leaves running dies with
it.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import shutil
from typing import Callable, Iterator, List, Mapping, Optional, Sequence

from . import targetfs
from .errors import MaaslikeError
from .mounts import bind_mount, unmount
from .runner import Finished, run_streaming

LOG = logging.getLogger("cloudinit_maaslike.install")

BINDS = ("/dev", "/dev/pts", "/proc", "/sys", "/run")
EFIVARS = "/sys/firmware/efi/efivars"
POLICY_RC_D = "usr/sbin/policy-rc.d"
RESOLV = "etc/resolv.conf"
_SAVED_SUFFIX = ".maaslike-saved"


class TargetError(MaaslikeError):
    pass


@contextlib.contextmanager
def prepared_target(target: str, allow_daemons: bool = False) -> Iterator[str]:
    """Bind mounts, policy-rc.d and resolv.conf for the `with` block."""
    target = os.path.realpath(target)
    if not os.path.isdir(target):
        raise TargetError(f"target {target} is not a directory")
    undo: List[Callable[[], None]] = []
    try:
        try:
            binds = list(BINDS) + ([EFIVARS] if os.path.isdir(EFIVARS) else [])
            for source in binds:
                if not os.path.isdir(source):
                    continue
                where = targetfs.makedirs(target, source)
                bind_mount(source, where)
                undo.append(functools.partial(unmount, where))
            if not allow_daemons:
                _block_daemons(target, undo)
            _use_host_resolv_conf(target, undo)
        except OSError as exc:
            raise TargetError(f"cannot prepare {target} for a chroot: {exc.strerror}"
                              f" ({exc.filename})") from None
        yield target
    finally:
        errors = []
        for step in reversed(undo):
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - undo every step, report all
                errors.append(str(exc))
        if errors:
            LOG.warning("target clean-up: %s", "; ".join(errors))


def _block_daemons(target: str, undo: List[Callable[[], None]]) -> None:
    if targetfs.exists(target, POLICY_RC_D):
        return  # the image has its own policy; leave it alone
    path = targetfs.write_file(target, POLICY_RC_D,
                               "#!/bin/sh\n# written by cloudinit-maaslike for the install\nexit 101\n",
                               mode=0o755)
    undo.append(lambda: os.unlink(path))


def _use_host_resolv_conf(target: str, undo: List[Callable[[], None]]) -> None:
    host = "/etc/resolv.conf"
    if not os.path.exists(host):
        return
    if not targetfs.is_dir(target, os.path.dirname(RESOLV)):
        return
    # the link itself is moved aside (the image's resolv.conf is often one), so
    # only its directory is resolved inside the target
    path = os.path.join(targetfs.resolve(target, os.path.dirname(RESOLV)), os.path.basename(RESOLV))
    saved = path + _SAVED_SUFFIX
    had = os.path.lexists(path)
    if had:
        os.rename(path, saved)
    shutil.copyfile(host, path, follow_symlinks=False)

    def restore() -> None:
        os.unlink(path)
        if had:
            os.rename(saved, path)

    undo.append(restore)


def chroot_argv(target: str, argv: Sequence[str]) -> List[str]:
    prefix = ["unshare", "--fork", "--pid", "--"] if shutil.which("unshare") else []
    return [*prefix, "chroot", target, *argv]


def run_in_target(
    target: str,
    argv: Sequence[str],
    env: Mapping[str, str],
    log: logging.Logger = LOG,
    allow_daemons: bool = False,
    capture: bool = False,
    prefix: str = "",
    redact: Callable[[str], str] = lambda s: s,
    stdin: Optional[str] = None,
) -> Finished:
    """Run `argv` in the target with its mounts prepared; returns its result."""
    environ = dict(env)
    environ["SYSTEMD_OFFLINE"] = "1"
    environ.setdefault("DEBIAN_FRONTEND", "noninteractive")
    with prepared_target(target, allow_daemons) as root:
        return run_streaming(chroot_argv(root, argv), environ, log, prefix=prefix,
                             capture=capture, redact=redact, stdin=stdin)


def chroot_target_from_env(explicit: Optional[str]) -> str:
    target = explicit or os.environ.get("TARGET_MOUNT_POINT")
    if not target:
        raise TargetError("no target: give -t/--target or set TARGET_MOUNT_POINT")
    return target
