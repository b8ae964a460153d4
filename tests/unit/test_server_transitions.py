"""Status transitions, row by row from transitions.py's table (MAAS's rules)."""

import pytest

from cloudinit_maaslike.server.statuses import STATUSES, normalise_status
from cloudinit_maaslike.server.transitions import (
    SIGNAL_STATUSES,
    after_event,
    after_signal,
    after_user_data_read,
)

INSTALL_FAILED = "Installation failed (refer to the installation log for more information)."


@pytest.mark.parametrize("status, signal, moved_to", [
    ("new", "COMMISSIONING", "commissioning"),
    ("new", "OK", None),
    ("commissioning", "OK", "ready"),
    ("commissioning", "FAILED", "failed-commissioning"),
    ("commissioning", "TESTING", "testing"),
    ("commissioning", "WORKING", None),
    ("testing", "OK", "ready"),
    ("testing", "FAILED", "failed-testing"),
    ("deploying", "OK", None),
    ("deploying", "WORKING", None),
    ("deployed", "OK", "ready"),
    ("deployed", "TESTING", "testing"),
    ("entering-rescue-mode", "OK", "rescue-mode"),
    ("entering-rescue-mode", "WORKING", "rescue-mode"),
    ("rescue-mode", "FAILED", None),
    ("disk-erasing", "OK", None),
    ("releasing", "OK", None),
    ("ready", "FAILED", None),
    ("broken", "OK", None),
    ("failed-deployment", "OK", None),
])
def test_signals_move_status_like_maas(status, signal, moved_to):
    outcome = after_signal(status, signal, "why")
    assert outcome.conflict is None
    assert outcome.status == moved_to
    # The error field is taken only together with a status change.
    assert outcome.error == ("why" if moved_to else None)


@pytest.mark.parametrize("status, failed", [
    ("deploying", "failed-deployment"),
    ("disk-erasing", "failed-disk-erasing"),
    ("releasing", "failed-releasing"),
    ("entering-rescue-mode", "failed-entering-rescue-mode"),
])
def test_failed_signal_marks_failed_with_maas_comment(status, failed):
    outcome = after_signal(status, "FAILED", "curtin said so")
    assert outcome.status == failed
    assert outcome.error is None  # mark_failed: the signal's error is not stored
    assert outcome.error_description
    if status == "deploying":
        assert outcome.error_description == INSTALL_FAILED


@pytest.mark.parametrize("status", ["allocated", "missing", "reserved", "retired",
                                    "failed-releasing", "exiting-rescue-mode"])
def test_signals_from_other_statuses_conflict(status):
    label = {"failed-releasing": "Releasing failed", "exiting-rescue-mode": "Exiting rescue mode"}
    expected = label.get(status, status.title())
    assert after_signal(status, "OK", "").conflict == f"Machine status isn't valid (status is {expected})"


def test_deployed_cannot_fail_commissioning():
    assert after_signal("deployed", "FAILED", "").conflict == \
        "Invalid transition: Deployed -> Failed commissioning."


def test_top_level_failure_events_fail_the_node():
    outcome = after_event("deploying", "cmd-install", "finish", "FAIL", "boom")
    assert (outcome.status, outcome.error_description) == ("failed-deployment", INSTALL_FAILED)
    outcome = after_event("commissioning", "modules-final", "finish", "FAILURE", "boom")
    assert (outcome.status, outcome.error) == ("failed-commissioning", "failed: boom")
    # Not top level, not a finish, or not a failure: nothing moves.
    assert after_event("deploying", "cmd-install/stage-late", "finish", "FAIL").status is None
    assert after_event("deploying", "cmd-install", "start", "FAIL").status is None
    assert after_event("deploying", "cmd-install", "finish", "SUCCESS").status is None
    assert after_event("deployed", "modules-final", "finish", "FAIL").status is None


def test_modules_final_releases_and_notes_netboot_finished():
    assert after_event("releasing", "modules-final", "finish", "SUCCESS").status == "ready"
    assert after_event("disk-erasing", "modules-final", "finish", None).status == "ready"
    deploying = after_event("deploying", "modules-final", "finish", "SUCCESS")
    assert (deploying.status, deploying.note) == (None, "netboot-finished")


def test_reading_plain_user_data_ends_the_deployment():
    assert after_user_data_read("deploying", curtin=False).status == "deployed"
    assert after_user_data_read("deploying", curtin=True).status is None
    assert after_user_data_read("commissioning", curtin=False).status is None


def test_every_status_and_signal_has_an_answer():
    for status in STATUSES:
        for signal in SIGNAL_STATUSES:
            outcome = after_signal(status, signal, "")
            assert outcome.conflict or outcome.status in (None, *STATUSES)


def test_status_names_labels_and_old_spellings():
    assert normalise_status("Failed deployment") == "failed-deployment"
    assert normalise_status("FAILED_DEPLOYMENT") == "failed-deployment"
    assert normalise_status("Releasing failed") == "failed-releasing"
    assert normalise_status("rescue") == "rescue-mode"
    assert normalise_status("dancing") is None
