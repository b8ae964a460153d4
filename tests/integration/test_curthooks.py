"""Curthooks on a real Debian 12 root (tests/harness/images.py `target`, cached).

Each test gets a fresh writable copy of the root through an overlay mount, so
the 700 MB tree is unpacked once per session.  Root only.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import logging
import os
import stat
import subprocess
import sys

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
    assert fstab in written and "/swap.img\tnone\tswap\tsw\t0\t0" in written
    creds = target / "etc/cloud/cloud.cfg.d/95-cloudconfig-maas-cloud-config.cfg"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    plain = target / "etc/cloud/cloud.cfg.d/95-cloudconfig-maas-datasource.cfg"
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
    # install_devices: [] writes curtin's grub defaults and installs grub nowhere
    assert results["installing-bootloader"] == ["/etc/default/grub", "/etc/default/grub.d/50-curtin-settings.cfg"]
    assert 'GRUB_DISABLE_OS_PROBER="true"' in (target / "etc/default/grub.d/50-curtin-settings.cfg").read_text()
    assert results["installing-kernel"] == []


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


# An image's own hook in the shape of packer-maas's Debian template: it reads
# the install through the payload's curtin and hands over to its built-ins.
# It also notes what it could import, which packer-maas's does not need to.
IMAGE_HOOK = """#!/usr/bin/env python3
import importlib.util
import json
import os
import sys

from curtin.config import load_command_config
from curtin.util import load_command_environment
from curtin.commands.curthooks import builtin_curthooks

import cloudinit_maaslike


def main():
    state = load_command_environment()
    config = load_command_config(None, state)
    target = state["target"]
    seen = {"cloudinit_maaslike": cloudinit_maaslike.__file__, "sys_path": sys.path,
            "decoy": importlib.util.find_spec("maaslike_test_decoy") is not None}
    with open(os.path.join(target, "image-hook.json"), "w") as out:
        json.dump(seen, out)
    builtin_curthooks(config, target, state)


if __name__ == "__main__":
    main()
"""

# A minimal stand-in for the curtin package a MAAS payload carries: the three
# entry points packer-maas's hook uses, reading the same variables curtin reads.
PAYLOAD_CURTIN = {
    "curtin/__init__.py": "",
    "curtin/commands/__init__.py": "",
    "curtin/config.py": (
        "import json\n\n\n"
        "def load_command_config(args, state):\n"
        "    with open(state['config']) as handle:\n"
        "        return json.load(handle)\n"),
    "curtin/util.py": (
        "import os\n\n"
        "VARIABLES = {'scratch': 'WORKING_DIR', 'fstab': 'OUTPUT_FSTAB', 'interfaces': 'OUTPUT_INTERFACES',\n"
        "             'config': 'CONFIG', 'target': 'TARGET_MOUNT_POINT',\n"
        "             'network_state': 'OUTPUT_NETWORK_STATE', 'network_config': 'OUTPUT_NETWORK_CONFIG',\n"
        "             'report_stack_prefix': 'CURTIN_REPORTSTACK'}\n\n\n"
        "def load_command_environment(env=os.environ):\n"
        "    return {key: env.get(name) for key, name in VARIABLES.items()}\n"),
    "curtin/commands/curthooks.py": (
        "import json\nimport os\nimport shutil\n\nimport curtin\n\n\n"
        "def builtin_curthooks(cfg, target, state):\n"
        "    os.makedirs(os.path.join(target, 'etc'), exist_ok=True)\n"
        "    shutil.copyfile(state['fstab'], os.path.join(target, 'etc', 'fstab'))\n"
        "    record = {'curtin': curtin.__file__, 'state': state, 'hostname': cfg.get('hostname'),\n"
        "              'cwd': os.getcwd()}\n"
        "    with open(os.path.join(target, 'payload-curthooks.json'), 'w') as out:\n"
        "        json.dump(record, out)\n"),
}

# The engine imported from a directory that also holds other packages, as
# dist-packages on a host with python3-curtin, or a venv's site-packages.
ENGINE_FROM_SITE = ("import sys; sys.path.insert(0, sys.argv.pop(1)); "
                    "from cloudinit_maaslike.cli import main; sys.exit(main())")


def test_an_images_own_hook_runs_instead_of_the_builtins(tmp_path, repo):
    """The image brings /curtin/curtin-hooks that imports `curtin` from the payload.

    Started with a relative working directory and target, from beside a
    site-packages holding another curtin: the hook must still be found, get
    absolute paths, and import the payload's curtin, not that one.
    """
    image = tmp_path / "image"
    (image / "curtin").mkdir(parents=True)
    (image / "etc").mkdir()
    hook = image / "curtin/curtin-hooks"
    hook.write_text(IMAGE_HOOK)
    hook.chmod(0o755)
    carried = []
    for name, text in PAYLOAD_CURTIN.items():
        path = tmp_path / "payload-src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        carried.append((str(path), name))
    site = tmp_path / "site-packages"
    (site / "curtin").mkdir(parents=True)
    (site / "curtin/__init__.py").write_text("raise ImportError('the host curtin next to the engine')\n")
    (site / "maaslike_test_decoy.py").write_text("")
    (site / "cloudinit_maaslike").symlink_to(os.path.join(repo, "cloudinit_maaslike"))
    cfg = {
        "install": {"log_file": str(tmp_path / "install.log"), "error_tarfile": None, "post_files": []},
        "partitioning_commands": {"builtin": None}, "network_commands": {"builtin": None},
        "sources": {"00": f"cp://{image}"},
        "hostname": "would-be-set-by-the-builtins",
    }
    payload = tmp_path / "payload.sh"
    payload.write_bytes(pack([yaml.safe_dump(cfg)], extra_files=carried, include_package=False))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", ENGINE_FROM_SITE, str(site), "install", "--payload", "payload.sh",
                           "--workdir", "work", "-t", "target"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    assert "running it instead of the built-ins" in done.stdout
    (top,) = (tmp_path / "work").iterdir()
    target = tmp_path / "target"
    ran = json.loads((target / "payload-curthooks.json").read_text())
    assert ran["curtin"] == str(top / "payload/curtin/__init__.py")
    assert ran["hostname"] == "would-be-set-by-the-builtins"  # CONFIG was read
    assert ran["state"]["target"] == str(target) and ran["cwd"] == str(top / "scratch")
    assert ran["state"]["fstab"] == str(top / "state/fstab") and ran["state"]["config"] == str(top / "state/config")
    assert all(os.path.isabs(value) for key, value in ran["state"].items() if key != "report_stack_prefix")
    assert ran["state"]["report_stack_prefix"] == "cmd-install/stage-curthooks/builtin"
    assert (target / "etc/fstab").exists()  # what the payload's built-ins did is in the target
    seen = json.loads((target / "image-hook.json").read_text())
    assert seen["cloudinit_maaslike"] == str(top / "python/cloudinit_maaslike/__init__.py")
    assert not seen["decoy"] and str(site) not in seen["sys_path"]
    assert not (target / "etc/hostname").exists()  # our built-ins did not run


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
