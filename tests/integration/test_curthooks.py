"""Curthooks on a real Debian 12 root (tests/harness/images.py `target`, cached).

Each test gets a fresh writable copy of the root through an overlay mount, so
the 700 MB tree is unpacked once per session.  Root only.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import logging
import os
import stat
import subprocess

import pytest
import yaml

from cloudinit_maaslike.curthooks import builtin_curthooks
from cloudinit_maaslike.payload import pack

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chroot, mounts)"),
]


def sh(*argv, **kwargs):
    return subprocess.run(list(argv), check=True, capture_output=True, text=True, **kwargs)


@pytest.fixture(scope="session")
def debian_root(tmp_path_factory):
    from tests.harness import images

    image = images.ensure("target")
    root = tmp_path_factory.mktemp("debian") / "root"
    root.mkdir()
    sh("tar", "--zstd", "-xpf", image.file("root.tar.zst"), "-C", str(root), "--numeric-owner")
    return root


@pytest.fixture
def target(debian_root, tmp_path):
    """A writable copy of the Debian root (overlay on the unpacked one)."""
    upper, work, merged = tmp_path / "upper", tmp_path / "work", tmp_path / "target"
    for path in (upper, work, merged):
        path.mkdir()
    sh("mount", "-t", "overlay", "overlay", "-o",
       f"lowerdir={debian_root},upperdir={upper},workdir={work}", str(merged))
    yield merged
    subprocess.run(["umount", "-R", str(merged)], capture_output=True)


def state_for(tmp_path, fstab: str = "") -> dict:
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    (state / "fstab").write_text(fstab)
    for name in ("network_config", "network_state", "interfaces", "storage_config"):
        (state / name).write_text("")
    return {name: str(state / name) for name in
            ("fstab", "network_config", "network_state", "interfaces", "storage_config")}


CFG = {
    "swap": {"size": "32M"},
    "hostname": "node7.maas",
    "kernel": {"install": False},
    "grub": {"install_devices": []},
    "cloudconfig": {
        "maas-datasource": {"content": "datasource_list: [ MAAS ]\n"},
        "maas-cloud-config": {"content": "datasource:\n  MAAS: {token_secret: hush, token_key: k}\n"},
    },
    "write_files": {
        "plain": {"path": "/etc/maaslike/plain", "content": "hello\n", "permissions": "0640"},
        "b64": {"path": "/etc/maaslike/b64", "content": base64.b64encode(b"decoded\n").decode(),
                "encoding": "b64"},
        "gzb64": {"path": "/etc/maaslike/gzb64", "encoding": "gz+b64",
                  "content": base64.b64encode(gzip.compress(b"unzipped\n")).decode()},
        "owned": {"path": "/etc/maaslike/owned", "content": "x\n", "owner": "daemon:daemon"},
        "appended": {"path": "/etc/issue", "content": "-- installed by maaslike\n", "append": True},
    },
    "apt": {"proxy": "http://proxy.example:3128",
            "sources": {"extra": {"source": "deb http://mirror.example/debian $RELEASE main"}}},
    "debconf_selections": {"maas": "cloud-init cloud-init/datasources multiselect MAAS"},
}


def test_builtin_steps_configure_the_system(target, tmp_path):
    fstab = "# / was on /dev/sda1\n/dev/disk/by-uuid/1234 / ext4 defaults 0 1\n"
    state = state_for(tmp_path, fstab)
    results = builtin_curthooks(CFG, str(target), state, log=logging.getLogger("test"))
    assert (target / "etc/hostname").read_text() == "node7\n"
    assert "127.0.1.1 node7.maas node7" in (target / "etc/hosts").read_text()
    swap = target / "swap.img"
    assert swap.stat().st_size == 32 << 20 and stat.S_IMODE(swap.stat().st_mode) == 0o600
    assert b"SWAPSPACE2" in swap.read_bytes()[:4096]
    written = (target / "etc/fstab").read_text()
    assert fstab in written and "/swap.img none swap sw 0 0" in written
    creds = target / "etc/cloud/cloud.cfg.d/50-cloudconfig-maas-cloud-config.cfg"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    plain = target / "etc/cloud/cloud.cfg.d/50-cloudconfig-maas-datasource.cfg"
    assert plain.read_text() == "datasource_list: [ MAAS ]\n" and stat.S_IMODE(plain.stat().st_mode) == 0o644
    assert (target / "etc/maaslike/b64").read_text() == "decoded\n"
    assert (target / "etc/maaslike/gzb64").read_text() == "unzipped\n"
    assert stat.S_IMODE((target / "etc/maaslike/plain").stat().st_mode) == 0o640
    owned = (target / "etc/maaslike/owned").stat()
    assert (owned.st_uid, owned.st_gid) == (1, 1)  # daemon:daemon in Debian's passwd
    assert (target / "etc/issue").read_text().endswith("-- installed by maaslike\n")
    assert 'Acquire::http::Proxy "http://proxy.example:3128";' in \
        (target / "etc/apt/apt.conf.d/90curtin-aptproxy").read_text()
    assert (target / "etc/apt/sources.list.d/extra.list").read_text() == \
        "deb http://mirror.example/debian bookworm main\n"
    debconf = sh("chroot", str(target), "debconf-show", "cloud-init").stdout
    assert "datasources: MAAS" in debconf
    assert results["installing-bootloader"] == [] and results["installing-kernel"] == []


def tree_digest(root) -> str:
    digest = hashlib.sha256()
    for folder, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(folder, name)
            info = os.lstat(path)
            digest.update(f"{os.path.relpath(path, root)} {info.st_mode:o} {info.st_uid}".encode())
            if stat.S_ISREG(info.st_mode) and "/var/cache/debconf" not in path:
                with open(path, "rb") as handle:
                    digest.update(hashlib.sha256(handle.read()).digest())
    return digest.hexdigest()


def test_running_curthooks_twice_leaves_the_same_target(target, tmp_path):
    state = state_for(tmp_path, "/dev/disk/by-uuid/1234 / ext4 defaults 0 1\n")
    log = logging.getLogger("test")
    builtin_curthooks(CFG, str(target), state, log=log)
    first = tree_digest(target / "etc"), (target / "swap.img").stat().st_size
    builtin_curthooks(CFG, str(target), state, log=log)
    assert (tree_digest(target / "etc"), (target / "swap.img").stat().st_size) == first


def test_bad_curthooks_config_is_refused_before_anything_is_written(target, tmp_path):
    bad = dict(CFG, swap={"size": "lots"}, write_files={"x": {"path": "../escape", "content": "x"}},
               cloudconfig={"bad name!": {"content": "x"}})
    before = tree_digest(target / "etc")
    with pytest.raises(Exception) as info:
        builtin_curthooks(bad, str(target), state_for(tmp_path), log=logging.getLogger("test"))
    text = str(info.value)
    assert "swap.size" in text and "write_files.x.path" in text and "cloudconfig.bad name!" in text
    assert tree_digest(target / "etc") == before


def test_an_images_own_hook_runs_instead_of_the_builtins(tmp_path, maaslike_cmd):
    """The image brings /curtin/curtin-hooks that imports `curtin` from the payload."""
    image = tmp_path / "image"
    (image / "curtin").mkdir(parents=True)
    (image / "etc").mkdir()
    hook = image / "curtin/curtin-hooks"
    hook.write_text(
        "#!/usr/bin/env python3\n"
        "import os, curtin\n"
        "target = os.environ['TARGET_MOUNT_POINT']\n"
        "with open(os.path.join(target, 'hook-ran'), 'w') as out:\n"
        "    out.write(curtin.MARK + ' ' + os.environ['CURTIN_PYTHON'] + '\\n')\n")
    hook.chmod(0o755)
    fake = tmp_path / "curtin_pkg.py"
    fake.write_text('MARK = "curtin-from-payload"\n')
    cfg = {
        "install": {"log_file": str(tmp_path / "install.log"), "error_tarfile": None, "post_files": []},
        "partitioning_commands": {"builtin": None}, "network_commands": {"builtin": None},
        "sources": {"00": f"cp://{image}"},
        "hostname": "would-be-set-by-the-builtins",
    }
    payload = tmp_path / "payload.sh"
    payload.write_bytes(pack([yaml.safe_dump(cfg)], extra_files=[(str(fake), "curtin/__init__.py")]))
    target = tmp_path / "target"
    done = subprocess.run([*maaslike_cmd, "install", "--payload", str(payload), "-t", str(target)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    mark, python = (target / "hook-ran").read_text().split()
    assert mark == "curtin-from-payload" and os.path.isabs(python)
    assert not (target / "etc/hostname").exists()  # the built-ins did not run
    assert "running it instead of the built-ins" in done.stdout


def test_mode_target_without_a_hook_fails(tmp_path, maaslike_cmd):
    image = tmp_path / "image"
    (image / "etc").mkdir(parents=True)
    cfg = {
        "install": {"log_file": str(tmp_path / "install.log"), "error_tarfile": None, "post_files": []},
        "partitioning_commands": {"builtin": None}, "network_commands": {"builtin": None},
        "sources": [f"cp://{image}"], "curthooks": {"mode": "target"},
    }
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    done = subprocess.run([*maaslike_cmd, "install", "-c", str(path), "-t", str(tmp_path / "t")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 3 and "curthooks.mode is target, but the image has no /curtin/curtin-hooks" \
        in done.stderr
