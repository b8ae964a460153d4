"""The whole path in QEMU: network boot, install, reboot, check-in (tests/harness/e2e.py)."""

from __future__ import annotations

import os

import pytest

from tests.harness import e2e, images, qemu

pytestmark = [pytest.mark.e2e, pytest.mark.images, pytest.mark.root]

TIMELINE = os.path.join(e2e.REPO, "build", "e2e", "timeline.json")
STAGES = ("early", "partitioning", "network", "extract", "curthooks", "hook", "late")


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    why = images.can_build() or qemu.can_run()
    if why:
        pytest.skip(why)
    try:
        return e2e.run(str(tmp_path_factory.mktemp("e2e")), TIMELINE)
    except (e2e.E2EFailed, qemu.VMError) as exc:
        pytest.fail(f"{exc}\n{getattr(exc, 'details', '') or getattr(exc, 'tail', '')}", pytrace=False)


def test_the_node_installed_itself_and_reported_every_stage(result):
    events = result.events
    assert any(e["kind"] == "preseed" for e in events), "the preseed was never fetched"
    curtin = [e for e in events if e.get("kind") == "event" and e.get("origin") == "curtin"]
    for stage in STAGES:
        name = f"cmd-install/stage-{stage}"
        assert any(e["name"] == name and e["event_type"] == "start" for e in curtin), name
        assert any(e["name"] == name and e["event_type"] == "finish" and e.get("result") == "SUCCESS"
                   for e in curtin), f"{name} did not finish with SUCCESS"
    final = [e for e in curtin if e["name"] == "cmd-install" and e["event_type"] == "finish"]
    assert final and final[-1]["result"] == "SUCCESS"
    assert final[-1].get("files"), "the final event carried no post files"
    assert any(e["kind"] == "netboot" and e.get("netboot") is False for e in events), "netboot was not turned off"


def test_every_request_that_needs_it_was_signed(result):
    # The status endpoint records only events whose Authorization carries a known token,
    # and the curtin tree answers a node's own data only to a correct signature.
    assert [e for e in result.events if e.get("kind") == "event"], "no signed events arrived"
    assert result.check["status"] == "deployed"


def test_the_installed_system_checked_in_with_its_hostname_and_key(result):
    assert result.check["host"] == e2e.HOSTNAME
    assert result.check["key"] == e2e.SSH_KEY.split()[1]
    assert result.check["firmware"] == "bios" and result.check["md"] == ""
    assert any(e["kind"] == "status" and e.get("status") == "deployed" for e in result.events)


def test_the_timeline_is_kept(result):
    import json

    with open(TIMELINE) as handle:
        data = json.load(handle)
    assert data["total_seconds"] > 0 and data["install_seconds"] > 0
    steps = [s["step"] for s in data["steps"]]
    assert steps[0] == "boot to preseed" and "reboot" in steps and all(s["seconds"] is not None for s in data["steps"])
    assert "Traceback" not in result.install_console
