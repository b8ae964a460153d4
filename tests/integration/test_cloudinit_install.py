"""The install engine under real cloud-init 22.4.2 and 25.1.4.

A node's user-data is a curtin-format payload (made with our `pack`); cloud-
init's `init` crawls it through the MAASLike datasource, then `modules --mode
final` runs our modules: the payload is decoded (never executed: its script is
removed before scripts-user), and each stage module runs its stage once.
"""

from __future__ import annotations

import base64
import os

import pytest
import yaml

from cloudinit_maaslike.payload import pack
from tests.fixtures.payload import hostile
from tests.harness import ciroot

from .recorder import Recorder
from .servers import start_maas

pytestmark = [pytest.mark.cloudinit, pytest.mark.root]

SKIP = ciroot.can_run()
VERSIONS = sorted(ciroot.versions()) or ["22.4.2", "25.1.4"]
REPO = ciroot.REPO
OUR_MODULES = ["maaslike_payload", "maaslike_early", "maaslike_partitioning", "maaslike_network",
               "maaslike_extract", "maaslike_curthooks", "maaslike_hook", "maaslike_late"]
# The shipped list minus modules that need a real machine (keys-to-console etc.).
TEST_FINAL_MODULES = OUR_MODULES + ["scripts-per-instance", "scripts-user", "final-message"]


@pytest.fixture(params=VERSIONS)
def version(request) -> str:
    if SKIP:
        pytest.skip(SKIP)
    return request.param


def install_config(tmp_path, early: str, late: str, endpoint: str) -> str:
    cfg = {
        "install": {"log_file": str(tmp_path / "install.log"),
                    "error_tarfile": str(tmp_path / "error.tar"),
                    "post_files": [str(tmp_path / "install.log")]},
        "partitioning_commands": {"builtin": None}, "network_commands": {"builtin": None},
        "extract_commands": {"builtin": None}, "curthooks_commands": {"builtin": None},
        "early_commands": {"10": early},
        "late_commands": {"90": late},
        "reporting": {"maas": {"type": "webhook", "endpoint": endpoint}},
    }
    return yaml.safe_dump(cfg)


def boot(tmp_path, version, user_data: bytes, name="root", reporting=None):
    maas_node = {"nodes": [{"system_id": "inst01", "hostname": "inst", "status": "deploying",
                            "user_data": {"base64": base64.b64encode(user_data).decode()}}]}
    server = start_maas(str(tmp_path / f"state-{name}"), nodes=maas_node)
    c = server.creds("inst01")
    snippet = yaml.safe_dump({"datasource": {"MAASLike": {
        "metadata_url": server.metadata_url(), "consumer_key": c.consumer_key,
        "token_key": c.token_key, "token_secret": c.token_secret, "max_wait": 20}}})
    snippets = {"95_test_datasource.cfg": snippet}
    if reporting:  # as MAAS's preseed does: cloud-init's own reporting, the node's webhook
        snippets["96_test_reporting.cfg"] = yaml.safe_dump({"reporting": reporting})
    root = ciroot.PrivateRoot(str(tmp_path / name), version, cmdline="ro console=ttyS0",
                              extra_cfg={"cloud_final_modules": TEST_FINAL_MODULES},
                              snippets=snippets)
    return server, root


@pytest.fixture
def recorder():
    peer = Recorder()
    yield peer
    peer.stop()


def curtin_events(recorder):
    return [(e.get("event_type"), e.get("name"), e.get("result")) for e in recorder.events()]


def test_payload_runs_its_stages_once_and_never_as_a_script(tmp_path, version, recorder):
    marks = tmp_path / "marks"
    early = f'echo "early $WORKING_DIR $TARGET_MOUNT_POINT" >> {marks}'
    late = f"echo late >> {marks}"
    payload = pack([install_config(tmp_path, early, late, recorder.url + "/status/inst01")],
                   sources=["cp:///nonexistent"])
    server, root = boot(tmp_path, version, payload)
    try:
        init = root.cloudinit("init")
        assert init.returncode == 0, init.stderr[-3000:]
        final = root.cloudinit("modules", "--mode", "final")
        assert final.returncode == 0, final.stderr[-4000:]
        lines = marks.read_text().splitlines()
        assert [line.split()[0] for line in lines] == ["early", "late"]
        assert lines[0].split()[1].endswith("/scratch") and lines[0].split()[2].endswith("/target")
        scripts = os.path.join(root.instance_dir(), "scripts")
        assert not os.path.exists(scripts) or os.listdir(scripts) == []
        assert "so cloud-init does not execute the payload" in final.stderr + final.stdout
        status = root.status()
        assert status["modules-final"]["errors"] == []
        assert status["modules-final"].get("recoverable_errors", {}) == {}
        names = curtin_events(recorder)
        assert ("start", "cmd-install", None) in names
        assert ("finish", "cmd-install", "SUCCESS") in names
        for stage in ("early", "partitioning", "network", "extract", "curthooks", "hook", "late"):
            assert ("finish", f"cmd-install/stage-{stage}", "SUCCESS") in names
        # a second run of the final stage on the same instance does nothing again
        again = root.cloudinit("modules", "--mode", "final")
        assert again.returncode == 0
        assert len(marks.read_text().splitlines()) == 2
    finally:
        server.server.stop()


def test_a_payloads_curtin_package_is_importable_by_commands(tmp_path, version, recorder):
    fake = tmp_path / "fake-curtin.py"
    fake.write_text('MARK = "curtin from the payload"\n')
    marks = tmp_path / "marks"
    early = f"$CURTIN_PYTHON -c 'import curtin; print(curtin.MARK)' >> {marks}"
    payload = pack([install_config(tmp_path, early, "true", recorder.url + "/status/inst01")],
                   extra_files=[(str(fake), "curtin/__init__.py")])
    server, root = boot(tmp_path, version, payload)
    try:
        assert root.cloudinit("init").returncode == 0
        final = root.cloudinit("modules", "--mode", "final")
        assert final.returncode == 0, final.stderr[-3000:]
        assert marks.read_text() == "curtin from the payload\n"
    finally:
        server.server.stop()


def test_a_failing_stage_stops_the_later_ones_and_cloud_init_reports_it(tmp_path, version, recorder):
    marks = tmp_path / "marks"
    payload = pack([install_config(tmp_path, "echo early failing; exit 1", f"echo late >> {marks}",
                                   recorder.url + "/status/inst01")])
    server, root = boot(tmp_path, version, payload)
    try:
        assert root.cloudinit("init").returncode == 0
        final = root.cloudinit("modules", "--mode", "final")
        assert not marks.exists()
        errors = " ".join(root.status()["modules-final"]["errors"])
        assert "maaslike_early" in errors or "maaslike-early" in errors, (errors, final.returncode)
        assert "stage early: command 10 failed (exit status 1)" in final.stderr
        names = curtin_events(recorder)
        assert ("finish", "cmd-install/stage-early", "FAIL") in names
        assert ("finish", "cmd-install", "FAIL") in names
        assert not any(n == "cmd-install/stage-late" for _, n, _ in names)
        assert os.path.exists(tmp_path / "error.tar")
    finally:
        server.server.stop()


def test_ordinary_user_data_is_left_to_cloud_init(tmp_path, version):
    marks = tmp_path / "ran"
    script = f"#!/bin/sh\necho user-script >> {marks}\n".encode()
    server, root = boot(tmp_path, version, script)
    try:
        assert root.cloudinit("init").returncode == 0
        final = root.cloudinit("modules", "--mode", "final")
        assert final.returncode == 0, final.stderr[-3000:]
        assert marks.read_text() == "user-script\n"  # scripts-user ran it, as cloud-init does
        assert "not an install payload" in final.stderr + final.stdout
        assert root.status()["modules-final"]["errors"] == []
    finally:
        server.server.stop()


def test_shipped_module_list_is_stock_plus_ours_and_loads_in_both_releases():
    if SKIP:
        pytest.skip(SKIP)
    with open(os.path.join(REPO, "config/cloud.cfg.d/90_maaslike_install.cfg")) as handle:
        shipped = yaml.safe_load(handle)["cloud_final_modules"]
    assert [m for m in shipped if m.startswith("maaslike_")] == OUR_MODULES
    assert shipped.index("maaslike_late") < shipped.index("scripts-user")
    for version, info in ciroot.versions().items():
        with open(os.path.join(info["root"], "etc/cloud/cloud.cfg")) as handle:
            stock = yaml.safe_load(handle)["cloud_final_modules"]
        others = [m for m in shipped if not m.startswith("maaslike_")]
        config_dir = os.path.join(info["pythonpath"], "cloudinit", "config")
        for module in others:
            assert os.path.exists(os.path.join(config_dir, "cc_" + module.replace("-", "_") + ".py")), \
                (version, module)
        assert [m for m in stock if m in others] == others  # same order as stock
    for module in OUR_MODULES:
        assert os.path.exists(os.path.join(REPO, "shims", f"cc_{module}.py"))


@pytest.mark.parametrize("damage", ["invalid-config", "bad-md5", "deep-nesting", "alias-bomb"])
def test_a_payload_that_cannot_be_used_fails_closed_and_maas_hears_why(tmp_path, version, recorder, damage):
    """Its script never runs, no stage runs, and cmd-install FAIL reaches the preseed's webhook."""
    marks = tmp_path / "marks"
    cfg = yaml.safe_load(install_config(tmp_path, f"echo early >> {marks}", f"echo late >> {marks}",
                                        recorder.url + "/status/inst01"))
    if damage == "invalid-config":
        cfg["sources"] = 42
    payload = pack([yaml.safe_dump(cfg)])
    if damage == "bad-md5":
        payload = payload.replace(b"MD5SUM=", b"MD5SUM=00", 1)
    elif damage == "deep-nesting":  # 50,000 '[': PyYAML's C loader would segfault cloud-init
        payload = hostile.with_config(hostile.nested_flow())
    elif damage == "alias-bomb":  # under 1 KiB, 387 million strings once expanded
        payload = hostile.with_config(hostile.ALIAS_BOMB)
    server, root = boot(tmp_path, version, payload, reporting={
        "maas": {"type": "webhook", "endpoint": recorder.url + "/status/inst01"}})
    try:
        assert root.cloudinit("init").returncode == 0
        final = root.cloudinit("modules", "--mode", "final")
        assert not marks.exists()
        scripts = os.path.join(root.instance_dir(), "scripts")
        assert not os.path.exists(scripts) or os.listdir(scripts) == []
        errors = " ".join(root.status()["modules-final"]["errors"])
        assert "maaslike_payload" in errors or "maaslike-payload" in errors, (errors, final.returncode)
        assert "install payload refused, nothing was run" in final.stderr
        finished = [e for e in recorder.events() if e.get("name") == "cmd-install"
                    and e.get("event_type") == "finish"]
        assert finished and finished[-1]["result"] == "FAIL"
        expected = {"invalid-config": "sources", "bad-md5": "MD5", "deep-nesting": "nesting deeper than 100",
                    "alias-bomb": "once aliases are expanded"}[damage]
        assert expected in finished[-1]["description"]
        assert not any(e.get("name", "").startswith("cmd-install/stage-") for e in recorder.events())
    finally:
        server.server.stop()
