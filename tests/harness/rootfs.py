"""Make and change Debian root trees: debootstrap, commands in a chroot, tarballs.

Every chroot command runs in a private mount namespace (``unshare --mount``)
that gets its own /proc, /sys, /dev and /run: when the command ends, however
it ends, the kernel drops those mounts, so a failed build never leaves
mounts behind on the host.  /run is an empty tmpfs, never the host's, so
package scripts do not see a running udev or systemd and do not try to
talk to them (this machine runs no udev at all: see machine.md).

The apt archive cache (build/images/debs) is bind-mounted into each root,
so a rebuild after a recipe change downloads nothing it already has.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from typing import IO, Iterable, List, Optional, Sequence

from .hostapt import mirrors
from .steps import StepFailed, clean_env, run

KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"

# Inside the namespace: mount what package scripts need, then chroot.
_ENTER = r"""
set -e
root="$1"; shift
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=0755 tmpfs "$root/run"
if [ -n "$APT_ARCHIVES" ]; then
    mkdir -p "$root/var/cache/apt/archives"
    mount --bind "$APT_ARCHIVES" "$root/var/cache/apt/archives"
fi
if [ -f /etc/resolv.conf ]; then
    rm -f "$root/etc/resolv.conf"
    : > "$root/etc/resolv.conf"
    mount --bind /etc/resolv.conf "$root/etc/resolv.conf"
fi
exec chroot "$root" "$@"
"""

# Keep daemons from starting inside the chroot while packages install.
_POLICY_RC = "#!/bin/sh\n# image build: start no services\nexit 101\n"

APT_GET = ["apt-get", "-y", "-q", "-o", "Dpkg::Use-Pty=0", "-o", "APT::Install-Recommends=false",
           "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold"]


def sources_list(suite: str) -> str:
    archive, security = mirrors()
    return (f"deb {archive} {suite} main\n"
            f"deb {archive} {suite}-updates main\n"
            f"deb {security} {suite}-security main\n")


def debootstrap(root: str, suite: str, what: str, log: IO[str], variant: Optional[str] = None,
                include: Sequence[str] = (), cache_dir: Optional[str] = None) -> None:
    """debootstrap `suite` from the host's Debian archive (its apt sources are read, never changed)."""
    cmd = ["unshare", "--mount", "--propagation", "private", "--",
           "debootstrap", f"--keyring={KEYRING}", "--merged-usr"]
    if variant:
        cmd.append(f"--variant={variant}")
    if include:
        cmd.append("--include=" + ",".join(include))
    if cache_dir:
        os.makedirs(cache_dir, exist_ok=True)
        cmd.append(f"--cache-dir={os.path.abspath(cache_dir)}")
    cmd += [suite, root, mirrors()[0]]
    run(cmd, what, log=log, env=clean_env(), step="debootstrap")


def in_root(root: str, argv: Sequence[str], what: str, log: IO[str], step: Optional[str] = None,
            apt_archives: Optional[str] = None) -> None:
    """Run `argv` chrooted into `root` with /proc, /sys, /dev and a private /run."""
    env = clean_env({"APT_ARCHIVES": os.path.abspath(apt_archives) if apt_archives else ""})
    cmd = ["unshare", "--mount", "--propagation", "private", "--",
           "/bin/sh", "-c", _ENTER, "enter", root, *argv]
    run(cmd, what, log=log, env=env, step=step or os.path.basename(argv[0]),
        label=f"chroot {root} {shlex.join(argv)}")


def shell(root: str, script: str, what: str, log: IO[str], step: str,
          apt_archives: Optional[str] = None) -> None:
    in_root(root, ["/bin/sh", "-ec", script], what, log, step=step, apt_archives=apt_archives)


def hold_services(root: str) -> None:
    path = os.path.join(root, "usr/sbin/policy-rc.d")
    with open(path, "w") as handle:
        handle.write(_POLICY_RC)
    os.chmod(path, 0o755)


def release_services(root: str) -> None:
    try:
        os.unlink(os.path.join(root, "usr/sbin/policy-rc.d"))
    except FileNotFoundError:
        pass


def apt_install(root: str, packages: Iterable[str], what: str, log: IO[str],
                apt_archives: Optional[str] = None, update: bool = True) -> None:
    pkgs = list(packages)
    if update:
        in_root(root, [*APT_GET, "update"], what, log, step="apt-get update", apt_archives=apt_archives)
    in_root(root, [*APT_GET, "install", *pkgs], what, log,
            step=f"apt-get install ({len(pkgs)} packages)", apt_archives=apt_archives)


def audit(root: str, what: str) -> None:
    """Fail unless ``dpkg --audit`` is clean (machine.md: debootstrap can leave packages half-set-up)."""
    done = subprocess.run(["chroot", root, "dpkg", "--audit"], capture_output=True, text=True,
                          env=clean_env())
    problems = (done.stdout + done.stderr).strip()
    if done.returncode != 0 or problems:
        first = problems.splitlines()[0] if problems else f"exit status {done.returncode}"
        raise StepFailed(f"{what}: dpkg --audit is not clean in {root}: {first}", problems)


def installed_packages(root: str) -> List[str]:
    """``name=version`` of every installed package, for the image's manifest."""
    done = subprocess.run(["chroot", root, "dpkg-query", "-W", "-f", "${Package}=${Version}\n"],
                          capture_output=True, text=True, check=True, env=clean_env())
    return sorted(done.stdout.split())


def _compressor(archive: str) -> str:
    if archive.endswith(".zst"):
        return "zstd -T0 -3 -q"
    return "pigz -6" if shutil.which("pigz") else "gzip -6"


def pack(root: str, archive: str, what: str, log: IO[str]) -> None:
    """Tar `root` (numeric owners, xattrs such as file capabilities, ACLs) into `archive`.

    The compressor follows the name: ``.zst`` zstd (all cores), anything
    else gzip (pigz when installed), as MAAS's ``root-tgz`` is.
    """
    compressor = _compressor(archive)
    tar = ("tar --numeric-owner --xattrs --xattrs-include='*' --acls --one-file-system "
           "--sort=name -C \"$1\" -cf - .")
    script = f"set -o pipefail; {tar} | {compressor} > \"$2.part\" && mv \"$2.part\" \"$2\""
    run(["bash", "-c", script, "pack", root, archive], what, log=log,
        step=f"pack {os.path.basename(archive)}", label=f"tar -C {root} . | {compressor} > {archive}")


def unpack(archive: str, root: str, what: str, log: IO[str]) -> None:
    os.makedirs(root, exist_ok=True)
    decompress = "-I zstd" if archive.endswith(".zst") else "-z"
    run(["bash", "-c", f"tar {decompress} --numeric-owner --xattrs --xattrs-include='*' --acls "
         "-xpf \"$1\" -C \"$2\"", "unpack", archive, root], what, log=log,
        step=f"unpack {os.path.basename(archive)}", label=f"tar -x -f {archive} -C {root}")


def remove_tree(path: str) -> None:
    """rm -rf that also copes with the read-only bits package trees carry."""
    if os.path.lexists(path):
        subprocess.run(["rm", "-rf", "--one-file-system", path], check=False)
