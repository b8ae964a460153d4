"""The machine statuses MAAS knows, under names an inventory can spell.

MAAS keeps a node's status as an integer with a UI label ("Failed
deployment"); the inventory and the events view use the label in lower case
with hyphens (``failed-deployment``).  Labels, underscores and a few short
forms older inventories used are accepted, so ``Failed deployment``,
``FAILED_DEPLOYMENT`` and ``failed`` all name the same status.
"""

from __future__ import annotations

from typing import Dict, Optional

# name -> MAAS's label (src/maascommon/node.py NODE_STATUS_LABELS), MAAS's order.
LABELS: Dict[str, str] = {
    "new": "New",
    "commissioning": "Commissioning",
    "failed-commissioning": "Failed commissioning",
    "missing": "Missing",
    "ready": "Ready",
    "reserved": "Reserved",
    "allocated": "Allocated",
    "deploying": "Deploying",
    "deployed": "Deployed",
    "retired": "Retired",
    "broken": "Broken",
    "failed-deployment": "Failed deployment",
    "releasing": "Releasing",
    "failed-releasing": "Releasing failed",
    "disk-erasing": "Disk erasing",
    "failed-disk-erasing": "Failed disk erasing",
    "rescue-mode": "Rescue mode",
    "entering-rescue-mode": "Entering rescue mode",
    "failed-entering-rescue-mode": "Failed to enter rescue mode",
    "exiting-rescue-mode": "Exiting rescue mode",
    "failed-exiting-rescue-mode": "Failed to exit rescue mode",
    "testing": "Testing",
    "failed-testing": "Failed testing",
}
STATUSES = tuple(LABELS)

# Statuses that boot MAAS's ephemeral environment (node_status.py), so their
# preseed is the commissioning one.
COMMISSIONING_LIKE = frozenset({
    "new", "commissioning", "disk-erasing", "entering-rescue-mode", "releasing",
    "rescue-mode", "testing",
})

_ALIASES = {
    "failed": "failed-deployment",
    "rescue": "rescue-mode",
    "exiting-rescue": "exiting-rescue-mode",
    "entering-rescue": "entering-rescue-mode",
}
_BY_LABEL = {label.lower().replace(" ", "-"): name for name, label in LABELS.items()}


def normalise_status(value: object) -> Optional[str]:
    """The status `value` names, or None if it names none."""
    text = str(value).strip().lower().replace(" ", "-").replace("_", "-")
    if text in LABELS:
        return text
    return _ALIASES.get(text) or _BY_LABEL.get(text)


def label(status: str) -> str:
    """MAAS's label for a status, as its error messages show it."""
    return LABELS.get(status, "Unknown")
