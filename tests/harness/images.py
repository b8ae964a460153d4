"""Debian 12 images the integration and end-to-end tests boot, install and extract.

Four recipes, each built on the previous one's root tarball so only the
first runs debootstrap:

``minbase``
    ``debootstrap --variant=minbase bookworm``: ``root.tar.gz`` and
    ``root.tar.zst`` (extraction benchmarks and tests).
``target``
    What a node is installed with: kernel, grub (BIOS and UEFI binaries),
    cloud-init, systemd, initramfs-tools, sshd.  ``root-tgz`` (MAAS's name;
    also ``root.tar.gz``) and ``root.tar.zst``, served by
    ``maaslike serve --images``; about 800 MB unpacked, the real root the
    extraction benchmarks use.
``ephemeral-base``
    The target plus the install tools and an initramfs that boots a squashfs
    root fetched over HTTP (``tests/harness/initramfs``): ``boot-kernel``,
    ``boot-initrd`` and ``root.tar.zst``.  Independent of the project's
    code, so a code change does not rebuild it.
``ephemeral``
    ephemeral-base with the project's .deb installed: ``squashfs`` (booted
    as ``root=squash:http://…/squashfs``), ``boot-kernel``, ``boot-initrd``.

Each lands in ``build/images/<name>-<key>/`` where the key hashes the
recipe (package list, suite, builder source, initramfs scripts, parent key,
the .deb's sha256): building again with nothing changed is a cache hit.
Builds need root (debootstrap, chroot, mounts).

    python -m tests.harness.images build [minbase|target|ephemeral ...] [--deb FILE]
    python -m tests.harness.images path ephemeral
"""

from __future__ import annotations

import argparse
import functools
import glob
import hashlib
import inspect
import os
import shutil
import sys
import time
from dataclasses import dataclass
from typing import IO, Any, Callable, Dict, List, Optional, Sequence, Tuple

from . import rootfs
from .debbuild import build_deb, sha256_file
from .imagecache import CacheSlot, building, find_built, name_lock, recipe_key, record_extra
from .steps import StepFailed, clean_env, run, say

HARNESS = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HARNESS))
CACHE_DIR = os.path.join(REPO, "build", "images")
DEB_ARCHIVES = os.path.join(CACHE_DIR, "debs")
INITRAMFS_DIR = os.path.join(HARNESS, "initramfs")
SUITE = "bookworm"
# Bump when a shared helper below changes what an image contains.
REVISION = 1

TARGET_PACKAGES = (
    "linux-image-amd64", "initramfs-tools", "systemd-sysv", "udev", "dbus",
    "grub-pc", "grub-efi-amd64-bin", "efibootmgr",
    # debootstrap and apt: cloud-init needs python3-cryptography, which needs
    # the virtual python3-cffi-backend-api (machine.md); name its provider.
    "cloud-init", "python3-cffi-backend",
    "openssh-server", "ifupdown", "isc-dhcp-client", "iproute2", "netbase",
    "ca-certificates", "e2fsprogs", "sudo", "less",
    # cloud-init's locale module sets en_US.UTF-8; without locales it fails, and a
    # failed top-level event marks a MAAS node failed (as real images have them)
    "locales",
    # initramfs-tools compresses with zstd (gzip, larger, without it)
    "zstd",
    # what assembles installed RAID arrays and LVM volumes at boot (MAAS's images have both)
    "mdadm", "lvm2",
)
EPHEMERAL_PACKAGES = (
    # the project's runtime dependencies (the .deb's Depends)
    "python3-requests", "python3-oauthlib", "python3-yaml",
    # the network root in the initramfs (wget, losetup)
    "busybox",
    # what the install stages run: partitions, filesystems, RAID/LVM, sources
    "fdisk", "gdisk", "parted", "dosfstools", "xfsprogs", "btrfs-progs", "mdadm", "lvm2",
    "zstd", "xz-utils", "pigz", "squashfs-tools", "rsync", "curl", "wget",
)
# Unused by an installer and large: left out of the ephemeral root to keep
# the download small (copyright files stay).
EPHEMERAL_PRUNE = ("usr/share/man", "usr/share/info", "usr/share/locale", "usr/share/doc-base",
                   "usr/share/lintian", "var/cache/debconf/templates.dat-old")


@dataclass
class Build:
    """What a recipe's builder works with."""

    name: str
    work: str
    log: IO[str]
    packages: Tuple[str, ...] = ()
    parent: Optional[Image] = None
    deb: Optional[str] = None

    @property
    def root(self) -> str:
        return os.path.join(self.work, "rootfs")

    def output(self, name: str) -> str:
        return os.path.join(self.work, name)


@dataclass(frozen=True)
class Image:
    name: str
    key: str
    path: str

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    @property
    def manifest(self) -> Dict[str, Any]:
        return CacheSlot(os.path.dirname(self.path), self.name, self.key).manifest()


@dataclass(frozen=True)
class Recipe:
    name: str
    summary: str
    builder: Callable[[Build], None]
    parent: Optional[str] = None
    packages: Tuple[str, ...] = ()
    needs_deb: bool = False
    outputs: Tuple[str, ...] = ()
    # Files under tests/harness whose bytes are part of the recipe.
    inputs: Tuple[str, ...] = ()
    helpers: Tuple[Callable[..., Any], ...] = ()
    # Constant texts the builder writes into the image.
    texts: Tuple[str, ...] = ()


# -- shared steps -------------------------------------------------------------

def write_file(root: str, relative: str, text: str, mode: int = 0o644) -> None:
    path = os.path.join(root, relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.lexists(path):
        os.unlink(path)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, mode)


def finalize_root(b: Build) -> None:
    """Make the tree an image: nothing host- or build-specific, nothing secret.

    machine-id and sshd host keys must be made per machine at first boot;
    apt lists are stale by then; the build host's resolv.conf, hostname
    and hosts do not belong to any node.
    """
    root = b.root
    rootfs.release_services(root)
    write_file(root, "etc/machine-id", "")
    dbus_id = os.path.join(root, "var/lib/dbus/machine-id")
    if os.path.isfile(dbus_id) and not os.path.islink(dbus_id):
        os.unlink(dbus_id)
    for path in glob.glob(os.path.join(root, "etc/ssh/ssh_host_*")):
        os.unlink(path)
    for pattern in ("var/lib/apt/lists/*", "var/cache/apt/*.bin", "var/cache/apt/archives/*.deb",
                    "tmp/*", "var/tmp/*"):
        for path in glob.glob(os.path.join(root, pattern)):
            if os.path.basename(path) not in ("partial", "lock"):
                rootfs.remove_tree(path)
    for leftover in ("etc/resolv.conf", "var/cache/apt/archives/lock"):
        if os.path.lexists(os.path.join(root, leftover)):
            os.unlink(os.path.join(root, leftover))
    write_file(root, "etc/hostname", "debian\n")
    write_file(root, "etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
               "ff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n")
    rootfs.audit(root, b.name)
    record_extra(b.work, {"packages": rootfs.installed_packages(root)})


def start_from_parent(b: Build) -> None:
    assert b.parent is not None
    rootfs.unpack(b.parent.file("root.tar.zst"), b.root, b.name, b.log)
    rootfs.hold_services(b.root)
    write_file(b.root, "etc/apt/sources.list", rootfs.sources_list(SUITE))


def tree_size(root: str) -> int:
    total = 0
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                total += os.lstat(path).st_size
    return total


def record_sizes(b: Build, *names: str) -> None:
    record_extra(b.work, {"sizes": {n: os.path.getsize(b.output(n)) for n in names}})


def link_or_copy(source: str, dest: str) -> None:
    try:
        os.link(source, dest)
    except OSError:
        shutil.copy2(source, dest)


# -- recipes ------------------------------------------------------------------

def build_minbase(b: Build) -> None:
    rootfs.debootstrap(b.root, SUITE, b.name, b.log, variant="minbase", cache_dir=DEB_ARCHIVES)
    write_file(b.root, "etc/apt/sources.list", rootfs.sources_list(SUITE))
    finalize_root(b)
    rootfs.pack(b.root, b.output("root.tar.zst"), b.name, b.log)
    rootfs.pack(b.root, b.output("root.tar.gz"), b.name, b.log)
    record_extra(b.work, {"tree_bytes": tree_size(b.root)})
    record_sizes(b, "root.tar.zst", "root.tar.gz")


# A serial console on every kernel the installed system boots (VMs, IPMI SOL).
GRUB_CONSOLE = """\
# maaslike target image: kernel and grub on the first serial port too.
GRUB_CMDLINE_LINUX_DEFAULT="console=tty0 console=ttyS0,115200n8"
GRUB_TERMINAL="console serial"
GRUB_SERIAL_COMMAND="serial --speed=115200"
GRUB_TIMEOUT=1
"""


def build_target(b: Build) -> None:
    start_from_parent(b)
    rootfs.apt_install(b.root, b.packages, b.name, b.log, apt_archives=DEB_ARCHIVES)
    write_file(b.root, "etc/default/grub.d/50-maaslike-console.cfg", GRUB_CONSOLE)
    write_file(b.root, "etc/locale.gen", "en_US.UTF-8 UTF-8\n")
    write_file(b.root, "etc/default/locale", "LANG=en_US.UTF-8\n")
    rootfs.in_root(b.root, ["locale-gen"], b.name, b.log, step="locale-gen")
    finalize_root(b)
    rootfs.pack(b.root, b.output("root.tar.zst"), b.name, b.log)
    rootfs.pack(b.root, b.output("root.tar.gz"), b.name, b.log)
    link_or_copy(b.output("root.tar.gz"), b.output("root-tgz"))
    record_extra(b.work, {"tree_bytes": tree_size(b.root)})
    record_sizes(b, "root.tar.zst", "root.tar.gz")


def install_initramfs_scripts(root: str) -> None:
    for folder, _, files in os.walk(INITRAMFS_DIR):
        for name in files:
            source = os.path.join(folder, name)
            relative = os.path.relpath(source, INITRAMFS_DIR)
            dest = os.path.join(root, "etc/initramfs-tools", relative)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copyfile(source, dest)
            os.chmod(dest, 0o644 if relative.startswith("conf.d/") else 0o755)


def kernel_files(root: str) -> Tuple[str, str]:
    kernels = sorted(glob.glob(os.path.join(root, "boot", "vmlinuz-*")))
    if len(kernels) != 1:
        raise StepFailed(f"expected one kernel in {root}/boot, found {len(kernels)}")
    version = os.path.basename(kernels[0])[len("vmlinuz-"):]
    initrd = os.path.join(root, "boot", f"initrd.img-{version}")
    if not os.path.isfile(initrd):
        raise StepFailed(f"no initrd for kernel {version} in {root}/boot")
    return kernels[0], initrd


def build_ephemeral_base(b: Build) -> None:
    start_from_parent(b)
    rootfs.apt_install(b.root, b.packages, b.name, b.log, apt_archives=DEB_ARCHIVES)
    install_initramfs_scripts(b.root)
    write_file(b.root, "etc/fstab", "# / is a tmpfs overlay on the squashfs image, set up by the initramfs\n")
    rootfs.in_root(b.root, ["update-initramfs", "-u", "-k", "all"], b.name, b.log,
                   step="update-initramfs")
    for relative in EPHEMERAL_PRUNE:
        rootfs.remove_tree(os.path.join(b.root, relative))
    for path in glob.glob(os.path.join(b.root, "usr/share/doc/*/*")):
        if os.path.basename(path) != "copyright":
            rootfs.remove_tree(path)
    finalize_root(b)
    kernel, initrd = kernel_files(b.root)
    shutil.copy2(kernel, b.output("boot-kernel"))
    shutil.copy2(initrd, b.output("boot-initrd"))
    rootfs.pack(b.root, b.output("root.tar.zst"), b.name, b.log)
    record_extra(b.work, {"tree_bytes": tree_size(b.root), "kernel": os.path.basename(kernel)})
    record_sizes(b, "root.tar.zst", "boot-kernel", "boot-initrd")


IMPORT_CHECK = "import DataSourceMAASLike, cc_maaslike_payload, cloudinit_maaslike"


def install_deb(root: str, deb: str, what: str, log: IO[str]) -> None:
    """``dpkg -i`` the project's .deb; ``apt-get -f install`` fetches what it lacks."""
    inside = "/tmp/" + os.path.basename(deb)
    shutil.copyfile(deb, os.path.join(root, inside.lstrip("/")))
    try:
        rootfs.in_root(root, ["dpkg", "-i", inside], what, log, step="dpkg -i")
    except StepFailed:
        say(what, "dpkg -i left dependencies to resolve: apt-get -f install")
        rootfs.in_root(root, [*rootfs.APT_GET, "update"], what, log, step="apt-get update",
                       apt_archives=DEB_ARCHIVES)
        rootfs.in_root(root, [*rootfs.APT_GET, "-f", "install"], what, log,
                       step="apt-get -f install", apt_archives=DEB_ARCHIVES)
    os.unlink(os.path.join(root, inside.lstrip("/")))
    rootfs.in_root(root, ["python3", "-c", IMPORT_CHECK], what, log, step="import check")


def build_ephemeral(b: Build) -> None:
    assert b.deb is not None
    start_from_parent(b)
    install_deb(b.root, b.deb, b.name, b.log)
    finalize_root(b)
    run(["mksquashfs", b.root, b.output("squashfs"), "-noappend", "-comp", "zstd",
         "-Xcompression-level", "6", "-xattrs", "-no-progress", "-quiet"],
        b.name, log=b.log, step="mksquashfs", env=clean_env())
    assert b.parent is not None
    for name in ("boot-kernel", "boot-initrd"):
        link_or_copy(b.parent.file(name), b.output(name))
    record_extra(b.work, {"tree_bytes": tree_size(b.root), "deb": os.path.basename(b.deb)})
    record_sizes(b, "squashfs", "boot-kernel", "boot-initrd")


SHARED_HELPERS: Tuple[Callable[..., Any], ...] = (
    finalize_root, start_from_parent, write_file, rootfs.sources_list, rootfs.pack,
    rootfs.debootstrap, rootfs.apt_install)

RECIPES: Dict[str, Recipe] = {r.name: r for r in (
    Recipe("minbase", "debootstrap --variant=minbase root tarballs", build_minbase,
           outputs=("root.tar.gz", "root.tar.zst")),
    Recipe("target", "bootable Debian 12 root tarball to install", build_target, parent="minbase",
           packages=TARGET_PACKAGES, outputs=("root-tgz", "root.tar.gz", "root.tar.zst"),
           texts=(GRUB_CONSOLE,)),
    Recipe("ephemeral-base", "ephemeral root without the project", build_ephemeral_base,
           parent="target", packages=EPHEMERAL_PACKAGES, inputs=("initramfs",),
           outputs=("boot-kernel", "boot-initrd", "root.tar.zst"),
           helpers=(install_initramfs_scripts, kernel_files), texts=EPHEMERAL_PRUNE),
    Recipe("ephemeral", "ephemeral squashfs with the project's .deb", build_ephemeral,
           parent="ephemeral-base", needs_deb=True, outputs=("squashfs", "boot-kernel", "boot-initrd"),
           helpers=(install_deb,), texts=(IMPORT_CHECK,)),
)}


# -- keys and the cache -------------------------------------------------------


def _name(function: Callable[..., Any]) -> str:
    return f"{function.__module__}.{function.__qualname__}"


def _source(function: Callable[..., Any]) -> str:
    """The function's text as it was when this module was imported.

    inspect reads the file again on each call but finds the function by the
    line numbers it was compiled with: after an edit of a running build's
    source it would return the wrong lines, and so the wrong key.
    """
    snapshot = _SOURCES.get(_name(function))
    if snapshot is not None:
        return snapshot
    try:
        return inspect.getsource(function)
    except (OSError, TypeError):
        return _name(function)


_SOURCES: Dict[str, str] = {_name(f): inspect.getsource(f) for f in {
    *SHARED_HELPERS, *(r.builder for r in RECIPES.values()),
    *(h for r in RECIPES.values() for h in r.helpers)}}


def _inputs_digest(relative: str) -> Dict[str, str]:
    base = os.path.join(HARNESS, relative)
    paths = [base] if os.path.isfile(base) else sorted(
        os.path.join(folder, name) for folder, _, files in os.walk(base) for name in files)
    digests = {}
    for path in paths:
        with open(path, "rb") as handle:
            digests[os.path.relpath(path, HARNESS)] = hashlib.sha256(handle.read()).hexdigest()
    return digests


def recipe_parts(recipe: Recipe, parent_key: Optional[str], deb_sha256: Optional[str]) -> Dict[str, Any]:
    """Everything an image is made of; its hash is the cache key."""
    inputs: Dict[str, str] = {}
    for relative in recipe.inputs:
        inputs.update(_inputs_digest(relative))
    return {
        "revision": REVISION,
        "name": recipe.name,
        "suite": SUITE,
        "mirrors": list(rootfs.mirrors()),
        "packages": list(recipe.packages),
        "parent_key": parent_key,
        "builder": _source(recipe.builder),
        "helpers": [_source(h) for h in (*SHARED_HELPERS, *recipe.helpers)],
        "inputs": inputs,
        "texts": list(recipe.texts),
        "deb_sha256": deb_sha256,
    }


def can_build() -> Optional[str]:
    """None when images can be built here, else why not."""
    if os.geteuid() != 0:
        return "building images needs root (debootstrap, chroot, mounts)"
    missing = [tool for tool in ("debootstrap", "mksquashfs", "zstd", "unshare", "chroot")
               if shutil.which(tool) is None]
    if missing:
        return f"missing tools: {', '.join(missing)} (make host-test-debs installs them)"
    return None


@functools.cache
def default_deb() -> str:
    """The project's .deb, built once per process (reproducible: same sources, same bytes)."""
    return build_deb(os.path.join(REPO, "build", "deb"))


def ensure(name: str, deb: Optional[str] = None, cache_dir: str = CACHE_DIR) -> Image:
    """The image `name`, from the cache or built now (parents first)."""
    recipe = RECIPES[name]
    parent = ensure(recipe.parent, deb, cache_dir) if recipe.parent else None
    deb_sha = None
    if recipe.needs_deb:
        deb = deb or default_deb()
        deb_sha = sha256_file(deb)
    parts = recipe_parts(recipe, parent.key if parent else None, deb_sha)
    slot = CacheSlot(cache_dir, name, recipe_key(parts))
    if slot.is_built():
        say(name, f"cached: {slot.path}")
        return Image(name, slot.key, slot.path)
    why_not = can_build()
    if why_not:
        raise StepFailed(f"{name}: not cached at {slot.path} and {why_not}")
    with name_lock(cache_dir, name):
        if slot.is_built():
            say(name, f"cached (built meanwhile): {slot.path}")
            return Image(name, slot.key, slot.path)
        started = time.monotonic()
        say(name, f"building: {recipe.summary} -> {slot.path}")
        with building(slot, parts) as work, open(slot.log_path, "w") as log:
            b = Build(name, work, log, packages=recipe.packages, parent=parent, deb=deb)
            try:
                recipe.builder(b)
            finally:
                rootfs.remove_tree(b.root)
            missing = [out for out in recipe.outputs if not os.path.isfile(b.output(out))]
            if missing:
                raise StepFailed(f"{name}: the build made no {', '.join(missing)} (log: {log.name})")
        os.replace(slot.log_path, slot.file("build.log"))
        say(name, f"built in {time.monotonic() - started:.0f}s: {slot.path}")
    return Image(name, slot.key, slot.path)


def cached(name: str, cache_dir: str = CACHE_DIR) -> Optional[Image]:
    """The newest complete build of `name`, without checking its key."""
    slot = find_built(cache_dir, name)
    return Image(name, slot.key, slot.path) if slot else None


# -- command line -------------------------------------------------------------

DEFAULT_BUILD = ("minbase", "target", "ephemeral")


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build (or find cached) images")
    build.add_argument("names", nargs="*", default=list(DEFAULT_BUILD), metavar="NAME",
                       help=f"one of {', '.join(RECIPES)} (default: {' '.join(DEFAULT_BUILD)})")
    build.add_argument("--deb", help="the project's .deb for the ephemeral image (default: build it)")
    build.add_argument("--if-root", action="store_true",
                       help="without root, say so and succeed (the image tests skip then)")
    path = sub.add_parser("path", help="print the directory of the newest cached image")
    path.add_argument("name", choices=list(RECIPES))
    args = parser.parse_args(argv)

    if args.command == "path":
        image = cached(args.name)
        if image is None:
            print(f"images: no cached {args.name} image under {CACHE_DIR}", file=sys.stderr)
            return 1
        print(image.path)
        return 0
    unknown = [name for name in args.names if name not in RECIPES]
    if unknown:
        parser.error(f"unknown image {', '.join(unknown)} (choose from {', '.join(RECIPES)})")
    if args.if_root and os.geteuid() != 0:
        print(f"images: skipped, {can_build()}")
        return 0
    timings: List[str] = []
    try:
        for name in args.names:
            started = time.monotonic()
            image = ensure(name, args.deb)
            timings.append(f"{name}: {time.monotonic() - started:.1f}s {image.path}")
    except StepFailed as exc:
        print(f"images: error: {exc}", file=sys.stderr)
        return 1
    for line in timings:
        say("images", line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
