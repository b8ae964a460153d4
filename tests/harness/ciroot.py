"""Run real cloud-init (an unpacked release) in a private root.

cloud-init reads and writes fixed host paths (/etc/cloud, /run/cloud-init,
/run/oauth_skew.json).  Each run gets a mount namespace where /etc is an
overlay (writes land in the root's own upper directory) and /run is a fresh
tmpfs, and a CLOUD_CFG that moves cloud_dir, run_dir and the log into the
root.  The host is left exactly as it was.  Needs root (mounts).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(REPO, "build", "cloudinit")
SNIPPET_DIR = os.path.join(REPO, "config", "cloud.cfg.d")

_NS_SCRIPT = r"""
set -e
mount -t overlay overlay -o lowerdir=/etc,upperdir="$ROOT/etc-upper",workdir="$ROOT/etc-work" /etc
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /etc/cloud/cloud.cfg.d
for f in "$ROOT"/cfg.d/*; do [ -e "$f" ] && cp -p "$f" /etc/cloud/cloud.cfg.d/; done
cd "$ROOT"
exec "$@"
"""


def versions() -> Dict[str, Dict[str, str]]:
    try:
        with open(os.path.join(BUILD, "versions.json")) as handle:
            return json.load(handle)
    except OSError:
        return {}


def can_run() -> Optional[str]:
    """None when private roots work here, else why not."""
    if os.geteuid() != 0:
        return "needs root (mount namespaces with overlay /etc)"
    if not versions():
        return "cloud-init .debs not unpacked (run `make cloudinit`)"
    return None


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


@dataclass
class PrivateRoot:
    path: str
    version: str
    cmdline: str = "root=/dev/vda1 console=ttyS0"
    extra_cfg: Dict[str, Any] = field(default_factory=dict)
    snippets: Dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.info = versions()[self.version]
        for sub in ("etc-upper", "etc-work", "cloud", "run", "cfg.d"):
            os.makedirs(os.path.join(self.path, sub), exist_ok=True)
        # Our shipped snippet, as an image would carry it.
        for name in os.listdir(SNIPPET_DIR):
            shutil.copy(os.path.join(SNIPPET_DIR, name), os.path.join(self.path, "cfg.d", name))
        for name, text in self.snippets.items():
            with open(os.path.join(self.path, "cfg.d", name), "w") as handle:
                handle.write(text)
        cfg = {
            "system_info": {
                "distro": "debian",
                "paths": {
                    "cloud_dir": self.cloud_dir,
                    "run_dir": self.run_dir,
                    "templates_dir": os.path.join(self.info["root"], "etc/cloud/templates"),
                },
            },
            "def_log_file": self.log_file,
            "syslog_fix_perms": [],
            "log_cfgs": [],
            "network": {"config": "disabled"},
            "preserve_hostname": True,
            "cloud_init_modules": [],
            "cloud_config_modules": [],
            "cloud_final_modules": [],
        }
        cfg.update(self.extra_cfg)
        with open(self.cfg_path, "w") as handle:
            yaml.safe_dump(cfg, handle)

    @property
    def cfg_path(self) -> str:
        return os.path.join(self.path, "cfg.yaml")

    @property
    def cloud_dir(self) -> str:
        return os.path.join(self.path, "cloud")

    @property
    def run_dir(self) -> str:
        return os.path.join(self.path, "run")

    @property
    def log_file(self) -> str:
        return os.path.join(self.path, "cloud-init.log")

    def etc_file(self, relative: str) -> str:
        """Where a file cloud-init wrote under /etc ended up."""
        return os.path.join(self.path, "etc-upper", relative)

    def cloudinit(self, *args: str, env: Optional[Dict[str, str]] = None, timeout: float = 120) -> Run:
        """`python -m cloudinit.cmd.main ARGS` inside the private namespace."""
        environ = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "HOME": self.path,
            "LANG": "C.UTF-8",
            "ROOT": self.path,
            "CLOUD_CFG": self.cfg_path,
            "DEBUG_PROC_CMDLINE": self.cmdline,
            "PYTHONPATH": os.pathsep.join([self.info["pythonpath"], os.path.join(REPO, "shims"), REPO]),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        environ.update(env or {})
        command: List[str] = [
            "unshare", "--mount", "--propagation", "private", "--",
            "/bin/sh", "-c", _NS_SCRIPT, "sh",
            sys.executable, "-m", "cloudinit.cmd.main", *args,
        ]
        done = subprocess.run(command, env=environ, capture_output=True, text=True, timeout=timeout)
        return Run(done.returncode, done.stdout, done.stderr)

    def log(self) -> str:
        try:
            with open(self.log_file, encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except OSError:
            return ""

    def instance_dir(self) -> str:
        return os.path.join(self.cloud_dir, "instance")

    def read_json(self, relative: str) -> Any:
        with open(os.path.join(self.run_dir, relative)) as handle:
            return json.load(handle)

    def status(self) -> Dict[str, Any]:
        """status.json's v1 (22.4.2 keeps it in cloud_dir/data, 25.x in run_dir)."""
        for path in (os.path.join(self.run_dir, "status.json"),
                     os.path.join(self.cloud_dir, "data", "status.json")):
            if os.path.exists(path):
                with open(path) as handle:
                    return json.load(handle)["v1"]
        raise FileNotFoundError("status.json")

    def reboot(self, cmdline: Optional[str] = None) -> None:
        """What a reboot changes for cloud-init: /run is empty, the cmdline may differ."""
        shutil.rmtree(self.run_dir)
        os.makedirs(self.run_dir)
        if cmdline is not None:
            self.cmdline = cmdline
