"""cloud-init's ds-identify (the systemd generator's check) accepts our snippet.

ds-identify greps datasource_list out of cloud.cfg.d; a block-style list or a
datasource without a dscheck would make it disable cloud-init on the node.
Run the real script of each release against a stub root (PATH_ROOT).
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.harness import ciroot

VERSIONS = sorted(ciroot.versions())
EXPECTED = {"22.4.2": "datasource_list: [ MAASLike, None ]", "25.1.4": "datasource_list: [ MAASLike ]"}


def identify(tmp_path, version: str, snippet_text: str) -> tuple:
    root = tmp_path / version
    for sub in ("etc/cloud/cloud.cfg.d", "proc/1", "sys/class/dmi/id", "run"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "etc/cloud/cloud.cfg.d/90_maaslike.cfg").write_text(snippet_text)
    (root / "proc/cmdline").write_text("ro console=ttyS0\n")
    (root / "proc/1/cmdline").write_text("ro\n")
    (root / "proc/uptime").write_text("1.0 1.0\n")
    script = os.path.join(ciroot.versions()[version]["root"], "usr/lib/cloud-init/ds-identify")
    done = subprocess.run(["sh", script], env={"PATH_ROOT": str(root), "DI_LOG": "stderr",
                                                "PATH": os.environ["PATH"]},
                          capture_output=True, text=True, timeout=60)
    cfg = root / "run/cloud-init/cloud.cfg"
    return done, cfg.read_text().strip() if cfg.exists() else ""


@pytest.fixture(params=VERSIONS or ["missing"])
def version(request):
    if not VERSIONS or shutil.which("sh") is None:
        pytest.skip("cloud-init .debs not unpacked (run `make cloudinit`)")
    return request.param


def test_shipped_snippet_enables_maaslike(tmp_path, version, repo):
    with open(os.path.join(repo, "config/cloud.cfg.d/90_maaslike.cfg")) as handle:
        text = handle.read()
    done, cfg = identify(tmp_path, version, text)
    assert done.returncode == 0, done.stderr
    assert "single entry in datasource_list (MAASLike)" in done.stderr
    assert cfg == EXPECTED[version]


def test_a_block_list_would_disable_cloud_init(tmp_path, version):
    done, cfg = identify(tmp_path, version, "datasource_list:\n  - MAASLike\n")
    assert "MAASLike" not in cfg
