"""How a node's status moves when it talks to the metadata service, as in MAAS.

A stand-in is only useful if a node that deploys against it ends in the same
status it would in MAAS, so these rules follow MAAS's ``metadataserver/api.py``
(``VersionIndexHandler.signal`` and ``UserDataHandler.read``) and
``api_twisted.py`` (``StatusWorkerService._processMessage``) for machines.

``op=signal`` (POST ``<v>/`` or ``curtin/<v>/``):

=====================  ============  ========================  ============================
node status            OK            FAILED                    other signals
=====================  ============  ========================  ============================
new                    --            --                        COMMISSIONING: commissioning
commissioning          ready         failed-commissioning      TESTING: testing
testing                ready (1)     failed-testing            --
deploying              --            failed-deployment (2)     --
deployed               ready         409 invalid move (3)      TESTING: testing
disk-erasing           -- (4)        failed-disk-erasing (2)   --
releasing              -- (4)        failed-releasing (2)      --
entering-rescue-mode   rescue-mode   failed-entering-... (2)   WORKING: rescue-mode
rescue-mode            --            --                        --
ready, broken,         --            --                        --  (200, nothing changes)
failed-commissioning,
failed-deployment,
failed-testing,
failed-entering-...
any other status       409 ``Machine status isn't valid (status is <Label>)``
=====================  ============  ========================  ============================

``--`` is no change (the signal is still recorded, 200 ``OK``).  When the
status changes, the signal's ``error`` field (empty if absent) becomes the
node's error; when it does not, the error is left alone.

1. MAAS returns to the status before testing (usually ready); the stand-in
   keeps no history and says ready.
2. MAAS's ``mark_failed``: its comment (``Installation failed (refer to the
   installation log for more information).``) becomes the node's error
   description; the signal's ``error`` is not stored.
3. MAAS maps a deployed node's signals like commissioning ones, and its
   status machine refuses deployed -> failed-commissioning:
   409 ``Invalid transition: Deployed -> Failed commissioning.``
4. Noted ("Disks erased", "Release scripts finished"); the node becomes
   ready when cloud-init reports ``modules-final`` finished (below).

Events (POST ``status/<id>``) change a status only on a *top-level* (no
``/`` in the name) ``finish``: with result FAIL/FAILURE, commissioning,
deploying, disk-erasing and releasing nodes are marked failed as above;
a successful ``modules-final`` finishes disk-erasing and releasing (ready).
A deploying node's successful ``modules-final`` is only noted (newer MAAS
tells its deploy workflow ``netboot-finished``; the status does not move).

Reading ``<v>/user-data`` (the plain tree, not ``curtin/``) while deploying
ends the deployment: deployed.  That read comes from the installed system's
cloud-init after the reboot, which is MAAS's hand-over point.

``op=netboot_off`` (anonymous on ``by-id/<id>/``, or signed on ``<v>/``)
turns netboot off and notes "Node disabled netboot"; it never moves the
status.  ``op=netboot_on`` turns it back on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

from .statuses import label

SIGNAL_STATUSES = (
    "OK", "FAILED", "WORKING", "COMMISSIONING", "TESTING", "TIMEDOUT", "INSTALLING",
    "APPLYING_NETCONF", "RELEASING", "DEPLOYING",
)
# Signalable, but MAAS answers 200 and does nothing.
_NOOP_STATES = frozenset({
    "broken", "failed-commissioning", "failed-deployment", "ready",
    "failed-entering-rescue-mode", "failed-testing",
})
FAILED_STATUS = {
    "commissioning": "failed-commissioning",
    "deploying": "failed-deployment",
    "releasing": "failed-releasing",
    "disk-erasing": "failed-disk-erasing",
    "entering-rescue-mode": "failed-entering-rescue-mode",
    "exiting-rescue-mode": "failed-exiting-rescue-mode",
    "testing": "failed-testing",
}
# The comments MAAS's mark_failed() leaves as the error description.
FAILURE_COMMENT = {
    "deploying": "Installation failed (refer to the installation log for more information).",
    "disk-erasing": "Failed to erase disks.",
    "releasing": "Failed to release machine.",
    "entering-rescue-mode": "Failed to enter rescue mode.",
    "commissioning": "Commissioning failed, cloud-init reported a failure (refer to the"
                     " event log for more information)",
}
FAILED_RESULTS = ("FAIL", "FAILURE")
# DEPLOYED's allowed moves (maasserver/node_status.py NODE_TRANSITIONS).
_FROM_DEPLOYED = frozenset({
    "allocated", "missing", "broken", "ready", "disk-erasing", "releasing",
    "entering-rescue-mode", "testing",
})


@dataclass(frozen=True)
class Outcome:
    """What one message does to a node; None fields leave things as they are."""

    status: Optional[str] = None
    error: Optional[str] = None  # the `error` MAAS shows for the last signal
    error_description: Optional[str] = None  # mark_failed's comment
    conflict: Optional[str] = None  # a 409 answer instead of a change
    note: str = ""  # what MAAS would add to the node's event log


def _failed(status: str) -> Outcome:
    return Outcome(status=FAILED_STATUS[status], error_description=FAILURE_COMMENT.get(status, ""))


def _commissioning_target(signal: str) -> Optional[str]:
    return {"OK": "ready", "FAILED": "failed-commissioning", "TESTING": "testing"}.get(signal)


def _signal_target(status: str, signal: str) -> Outcome:
    """The move for a signal from a signalable machine, before error handling."""
    if status == "new":
        return Outcome(status="commissioning" if signal == "COMMISSIONING" else None)
    if status == "commissioning":
        return Outcome(status=_commissioning_target(signal))
    if status == "deployed":
        target = _commissioning_target(signal)
        if target is not None and target not in _FROM_DEPLOYED:
            return Outcome(conflict=f"Invalid transition: {label(status)} -> {label(target)}.")
        return Outcome(status=target)
    if status == "testing":
        return Outcome(status={"OK": "ready", "FAILED": "failed-testing"}.get(signal))
    if status in ("deploying", "disk-erasing", "releasing") and signal == "FAILED":
        return _failed(status)
    if status == "disk-erasing" and signal == "OK":
        return Outcome(note="Disks erased")
    if status == "releasing" and signal == "OK":
        return Outcome(note="Release scripts finished")
    if status == "entering-rescue-mode":
        if signal in ("OK", "WORKING"):
            return Outcome(status="rescue-mode")
        if signal == "FAILED":
            return _failed(status)
    return Outcome()


def after_signal(status: str, signal: str, error: str) -> Outcome:
    """The outcome of ``op=signal`` with `signal` (already validated) from a node in `status`."""
    if status in _NOOP_STATES:
        return Outcome()
    if status not in ("new", "testing", "commissioning", "deploying", "deployed",
                      "disk-erasing", "entering-rescue-mode", "rescue-mode", "releasing"):
        return Outcome(conflict=f"Machine status isn't valid (status is {label(status)})")
    outcome = _signal_target(status, signal)
    if outcome.conflict or outcome.error_description is not None:
        return outcome
    if outcome.status is None or outcome.status == status:
        return Outcome(note=outcome.note)
    return Outcome(status=outcome.status, error=error, note=outcome.note)


def is_top_level(name: str) -> bool:
    return "/" not in name


def after_event(status: str, name: str, event_type: str, result: Optional[str],
                description: str = "") -> Outcome:
    """The outcome of a status event (``POST status/<id>``) from a node in `status`."""
    if not (is_top_level(name) and event_type == "finish"):
        return Outcome()
    failed = result in FAILED_RESULTS
    outcome = Outcome()
    if failed and status in ("commissioning", "deploying", "disk-erasing", "releasing"):
        outcome = _failed(status)
    elif not failed and name == "modules-final":
        if status in ("disk-erasing", "releasing"):
            outcome = Outcome(status="ready", note="Released")
        elif status == "deploying":
            outcome = Outcome(note="netboot-finished")
    if (outcome.status or status) in ("ready", "failed-commissioning"):
        # MAAS's last step after a top-level finish that leaves a terminal state.
        outcome = replace(outcome, error=f"failed: {description}")
    return outcome


def after_user_data_read(status: str, curtin: bool) -> Outcome:
    """Reading the plain tree's user-data hands a deploying node over: deployed."""
    if status == "deploying" and not curtin:
        return Outcome(status="deployed", note="Deployed")
    return Outcome()
