"""Build the project's Debian package (python3-cloudinit-maaslike) with dpkg-buildpackage.

The build runs on a copy of the source tree under ``build/deb/src`` so the
shared checkout never collects debian/.debhelper, .pybuild or egg-info
litter while others work in it.  The copy holds what git would ship
(tracked and new, not ignored, files).  dpkg-buildpackage takes
SOURCE_DATE_EPOCH from debian/changelog, so the same sources give the same
.deb bytes, and image caches keyed on the .deb's hash stay valid.

    python -m tests.harness.debbuild [--dest build/deb]
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
from typing import List

from .steps import StepFailed, clean_env, run, say

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SOURCE = "cloudinit-maaslike"
BINARY = "python3-cloudinit-maaslike"
# Never part of a source package, whatever git thinks of them.
SKIP_TOP = {".git", ".venv", "build", "dist", ".pybuild", ".mypy_cache", ".ruff_cache",
            ".pytest_cache", ".hypothesis"}


def package_version(repo: str = REPO) -> str:
    """`cloudinit_maaslike.__version__`, read from the file (no import, no venv needed)."""
    with open(os.path.join(repo, "cloudinit_maaslike", "__init__.py"), encoding="utf-8") as handle:
        found = re.search(r'^__version__\s*=\s*["\']([^"\']+)["\']', handle.read(), re.M)
    if not found:
        raise StepFailed("deb: no __version__ in cloudinit_maaslike/__init__.py")
    return found.group(1)


def changelog_version(repo: str = REPO) -> str:
    """The version of debian/changelog's newest entry."""
    with open(os.path.join(repo, "debian", "changelog"), encoding="utf-8") as handle:
        found = re.match(r"^(\S+) \(([^)]+)\)", handle.readline())
    if not found or found.group(1) != SOURCE:
        raise StepFailed(f"deb: debian/changelog does not start with a {SOURCE} entry")
    return found.group(2)


def upstream_part(debian_version: str) -> str:
    """``1:0.1.0-2`` -> ``0.1.0``: what must equal the Python version."""
    version = debian_version.split(":", 1)[-1]
    return version.rsplit("-", 1)[0] if "-" in version else version


def source_files(repo: str = REPO) -> List[str]:
    """Relative paths of the files a source package holds (git's view when available)."""
    try:
        listed = subprocess.run(["git", "-C", repo, "ls-files", "-z", "-co", "--exclude-standard"],
                                capture_output=True, check=True).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        listed = []
        for folder, dirs, files in os.walk(repo):
            rel = os.path.relpath(folder, repo)
            if rel == ".":
                dirs[:] = [d for d in dirs if d not in SKIP_TOP]
            dirs[:] = [d for d in dirs if d != "__pycache__" and not d.endswith(".egg-info")]
            listed += [os.path.normpath(os.path.join(rel, name)) for name in files]
    keep = []
    for path in sorted(set(filter(None, listed))):
        if path.split("/", 1)[0] in SKIP_TOP or ".egg-info/" in path or path.endswith(".pyc"):
            continue
        if os.path.isfile(os.path.join(repo, path)):  # deleted-but-tracked files are skipped
            keep.append(path)
    return keep


def copy_source(repo: str, dest: str) -> None:
    shutil.rmtree(dest, ignore_errors=True)
    for rel in source_files(repo):
        target = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(os.path.join(repo, rel), target)


def sha256_file(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def deb_path(dest: str, version: str) -> str:
    return os.path.join(dest, f"{BINARY}_{version.split(':', 1)[-1]}_all.deb")


def build_deb(dest: str = os.path.join(REPO, "build", "deb"), repo: str = REPO,
              verbose: bool = False) -> str:
    """Build the .deb into `dest` and return its path."""
    version = changelog_version(repo)
    if upstream_part(version) != package_version(repo):
        raise StepFailed(f"deb: debian/changelog says {version} but cloudinit_maaslike.__version__ "
                         f"is {package_version(repo)}: add a changelog entry (dch -v)")
    dest = os.path.abspath(dest)
    workdir = os.path.join(dest, "src")
    srcdir = os.path.join(workdir, f"{SOURCE}-{upstream_part(version)}")
    say("deb", f"copying sources to {srcdir}")
    copy_source(repo, srcdir)
    for stale in glob.glob(os.path.join(workdir, f"{BINARY}_*")):
        os.unlink(stale)
    os.makedirs(dest, exist_ok=True)
    with open(os.path.join(dest, "build.log"), "w") as log:
        run(["dpkg-buildpackage", "-us", "-uc", "-b"], "deb", log=log, cwd=srcdir,
            env=clean_env(), step="dpkg-buildpackage", verbose=verbose)
    built = deb_path(workdir, version)
    if not os.path.isfile(built):
        raise StepFailed(f"deb: dpkg-buildpackage succeeded but {built} is missing")
    final = deb_path(dest, version)
    os.replace(built, final)
    say("deb", f"{final} (sha256 {sha256_file(final)[:16]})")
    return final


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", default=os.path.join(REPO, "build", "deb"))
    parser.add_argument("-v", "--verbose", action="store_true", help="echo every build line")
    args = parser.parse_args()
    try:
        build_deb(args.dest, verbose=args.verbose)
    except StepFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
