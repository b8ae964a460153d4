"""``kexec: {mode: "on"}``: after a successful install, reboot straight into the installed kernel.

A server's firmware can take minutes to get from a reboot back to the boot
loader; loading the installed system's kernel with ``kexec -l`` before the
reboot skips all of it.  The engine calls this once every stage is done, while
the target is still mounted; when a kernel is loaded the install reboots now,
whatever ``power_state`` said, as curtin does.

The kernel is the one the installed system would boot first: the default
entry of the target's ``/boot/grub/grub.cfg``, found by curtin's rules:

- the last ``set default="N"`` line gives N (0 when there is none);
- every line holding the word ``menuentry`` starts an entry, counted in file
  order, entries inside a ``submenu`` included (``menuentry_id_option`` and
  ``submenu`` do not count);
- entry N runs from the line after its ``menuentry`` line to the line before
  the next one (or to the end of the file); in it, a line holding the word
  ``linux`` gives the kernel (its second word) and the command line (the rest,
  shell-split, joined by single spaces), a line holding ``initrd`` the initrd
  (its second word: kexec takes one); a later such line replaces an earlier.

No entry at all, or an entry without a kernel, is logged as an error and the
machine reboots through its firmware as configured (curtin does the same).
Anything else that goes wrong is an install failure.

Where we differ from curtin, deliberately:

- curtin joins the target with the grub path using ``os.path.join``, which
  drops the target for an absolute path, so it loads the *installer's*
  ``/boot/vmlinuz-…`` (absent on most ephemeral images, or the wrong
  kernel).  We resolve the paths inside the target, where an absolute link
  starts again at the target root and no path leaves it: a ``..`` in a grub
  path, or a link climbing above the target root, is refused.  When ``/boot``
  is its own filesystem, grub names ``/vmlinuz-…`` relative to it; when such
  a path is not in the target's root we look under the target's ``/boot``.
  A kernel or initrd that is in neither place is a failure naming it.
- curtin's pattern for ``set default`` wants a word character right after
  the closing quote, so it never matches an ordinary ``set default="2"``
  line and curtin always loads entry 0; we honour the line, as grub does.
- with no ``initrd`` line curtin passes kexec an empty argument; we pass none.
- the reboot's message is ``rebooting with kexec``; curtin's carries the
  quotes of its source (``'rebooting with kexec'``) into the wall message.
- curtin reboots with ``shutdown -r now``, which under systemd restarts
  through the firmware and leaves the loaded kernel unused (Debian's
  kexec-tools hands reboots to systemd there); where systemd runs we reboot
  with ``systemctl kexec``, which boots the loaded kernel (see finish.py).
- a default entry beyond the last one is a failure naming both numbers
  (curtin stops with an IndexError).
- kexec-tools is installed on the installer only when a kernel is found to
  load, so a grub.cfg without one changes nothing on the installer.
- ``kexec`` that is not a mapping is refused at validation, before the disks
  are written (curtin raises only here, after the install).
"""

from __future__ import annotations

import logging
import os
import re
import shlex
import shutil
from dataclasses import dataclass
from typing import Callable, List, Mapping, Optional, Tuple

from .. import runner, targetfs
from ..config.model import PowerState
from ..curthooks.apt import UPDATE
from ..errors import MaaslikeError
from ..runner import ProgramNotStarted

GRUB_CFG = "boot/grub/grub.cfg"
KEXEC_POWER = PowerState("kexec", "now", "rebooting with kexec")
INSTALL_TOOLS = ("apt-get", "--quiet", "--assume-yes", "install", "kexec-tools")
LOAD_TIMEOUT = 120.0  # seconds; reading a kernel and an initrd takes a few

_SET_DEFAULT = re.compile(r'\bset default="([0-9]+)"')
_MENUENTRY = re.compile(r"\bmenuentry\b")
_TITLE = re.compile(r"""\bmenuentry\s+(?:'([^']*)'|"([^"]*)"|(\S+))""")


class KexecFailed(MaaslikeError):
    """Loading the installed kernel failed after the install itself succeeded."""

    exit_code = 3


class NoBootEntry(MaaslikeError):
    """grub.cfg names nothing to load: logged, and the machine reboots through its firmware."""


@dataclass(frozen=True)
class BootEntry:
    """The default entry of a grub.cfg, its paths as grub names them."""

    title: str
    kernel: str
    cmdline: str
    initrd: Optional[str] = None


def _words(line: str, number: int) -> List[str]:
    try:
        return shlex.split(line)
    except ValueError as exc:
        raise KexecFailed(f"kexec: line {number} of the target's grub.cfg cannot be split into words: {exc}") from None


def _path_word(line: str, number: int, keyword: str) -> Tuple[str, List[str]]:
    words = _words(line, number)
    if len(words) < 2:
        raise KexecFailed(f"kexec: line {number} of the target's grub.cfg has {keyword} but no file after it")
    return words[1], words[2:]


def _title(line: str) -> str:
    found = _TITLE.search(line)
    return next((g for g in found.groups() if g is not None), "") if found else ""


def default_entry(text: str) -> BootEntry:
    """The entry grub boots when nobody chooses, read by curtin's line rules (see the module docstring)."""
    lines = text.splitlines()
    default = 0
    starts: List[int] = []
    for index, line in enumerate(lines):
        found = _SET_DEFAULT.search(line)
        if found:
            default = int(found.group(1))
        if _MENUENTRY.search(line):
            starts.append(index)
    if not starts:
        raise NoBootEntry("the target's grub.cfg has no menuentry")
    if default >= len(starts):
        raise KexecFailed(f"kexec: the target's grub.cfg sets default entry {default},"
                          f" but has only {len(starts)} menu entries (counted from 0)")
    begin = starts[default] + 1
    end = starts[default + 1] if default + 1 < len(starts) else len(lines)
    title = _title(lines[starts[default]])
    kernel: Optional[str] = None
    cmdline = ""
    initrd: Optional[str] = None
    for index in range(begin, end):
        words = lines[index].split()
        if "linux" in words:
            kernel, rest = _path_word(lines[index], index + 1, "linux")
            cmdline = " ".join(rest)
        if "initrd" in words:
            initrd = _path_word(lines[index], index + 1, "initrd")[0]
    if kernel is None:
        raise NoBootEntry(f"entry {default} ({title!r}) of the target's grub.cfg has no linux line")
    return BootEntry(title, kernel, cmdline, initrd)


def find_in_target(target: str, path: str, what: str) -> str:
    """The host path of a file grub names, looked for in the target's root, then its /boot.

    The second place is for a separate /boot filesystem, where grub's paths
    are relative to it (``/vmlinuz-…``).
    """
    if ".." in path.split("/"):
        raise KexecFailed(f"kexec: the {what} {path} named by the target's grub.cfg contains '..';"
                          " refused, as it could lead out of the target")
    candidates = [path] if path.startswith("/boot/") else [path, "/boot/" + path.lstrip("/")]
    for candidate in candidates:
        try:
            resolved = targetfs.resolve(target, candidate, strict=True)
        except targetfs.TargetPathError as exc:
            raise KexecFailed(f"kexec: the {what} {path} named by the target's grub.cfg: {exc}") from None
        if os.path.isfile(resolved):
            return resolved
    raise KexecFailed(f"kexec: the {what} {path} named by the target's grub.cfg is not in the target {target}"
                      f" (looked for {' and '.join(candidates)})")


def _last_lines(text: str, count: int = 3) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "; ".join(lines[-count:])[-500:]


def ensure_kexec_tools(env: Mapping[str, str], log: logging.Logger, redact: Callable[[str], str],
                       which: Callable[[str], Optional[str]]) -> None:
    """Install kexec-tools on the installer when it lacks ``kexec``, as curtin does, with apt."""
    if which("kexec"):
        return
    log.info("kexec: no kexec program on this system; installing kexec-tools here (the installer, not the target)")
    apt_env = dict(env, DEBIAN_FRONTEND="noninteractive")
    try:
        update = runner.run_streaming(list(UPDATE), apt_env, log, prefix="[kexec] ", redact=redact)
        if update.returncode != 0:
            log.warning("kexec: apt-get update failed (exit status %d); installing from the lists already here",
                        update.returncode)
        done = runner.run_streaming(list(INSTALL_TOOLS), apt_env, log, prefix="[kexec] ", redact=redact)
    except ProgramNotStarted as exc:
        raise KexecFailed(f"kexec: kexec is not installed on the installer and apt-get cannot install it: {exc}"
                          ) from None
    if done.returncode != 0:
        last = f": {done.tail[-1]}" if done.tail else ""
        raise KexecFailed(f"kexec: installing kexec-tools on the installer failed ({' '.join(INSTALL_TOOLS)}:"
                          f" exit status {done.returncode}){last}; add kexec-tools to the ephemeral image"
                          " or remove kexec from the config")


def load_installed_kernel(
    target: str,
    env: Mapping[str, str],
    log: logging.Logger,
    redact: Callable[[str], str] = lambda s: s,
    which: Optional[Callable[[str], Optional[str]]] = None,
) -> bool:
    """``kexec -l`` the target's default grub entry; False when grub.cfg names nothing to load.

    `env` is the environment for apt-get and kexec (PATH, proxies); `which`
    finds a program on the installer (on `env`'s PATH unless given).
    """
    data = targetfs.read_file(target, GRUB_CFG)
    if data is None:
        raise KexecFailed(f"kexec: {GRUB_CFG} is not in the target {target}, so there is no kernel to load:"
                          " was a bootloader installed (curthooks)? or remove kexec from the config")
    try:
        entry = default_entry(data.decode("utf-8", "replace"))
    except NoBootEntry as exc:
        log.error("kexec: %s; no kernel loaded, the machine restarts through its firmware", exc)
        return False
    kernel = find_in_target(target, entry.kernel, "kernel")
    initrd = find_in_target(target, entry.initrd, "initrd") if entry.initrd else None
    log.info("kexec: default grub entry %r: kernel %s, initrd %s, command line %r",
             entry.title, entry.kernel, entry.initrd or "none", entry.cmdline)
    ensure_kexec_tools(env, log, redact,
                       which or (lambda name: shutil.which(name, path=env.get("PATH"))))
    argv = ["kexec", "-l", kernel, f"--append={entry.cmdline}"]
    if initrd:
        argv.append(f"--initrd={initrd}")
    log.info("kexec: %s", " ".join(argv))
    try:
        done = runner.run(argv, env=env, timeout=LOAD_TIMEOUT)
    except ProgramNotStarted as exc:
        raise KexecFailed(f"kexec: {exc}") from None
    except runner.TimeoutExpired:
        raise KexecFailed(f"kexec: loading {entry.kernel} did not finish in {LOAD_TIMEOUT:.0f} s") from None
    if done.returncode != 0:
        why = _last_lines(done.stderr) or _last_lines(done.stdout) or "no output"
        raise KexecFailed(f"kexec: loading the target's kernel {entry.kernel} failed (kexec -l: exit status"
                          f" {done.returncode}): {why}")
    return True
