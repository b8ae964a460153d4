"""The whole path on other machines: UEFI firmware, and RAID1 + LVM across three disks.

Each boots the ephemeral image from the network, installs, reboots into the
installed disk and checks in, as test_full_path does for the BIOS default; the
check line from the installed system says how it booted and what it mounted.
"""

from __future__ import annotations

import os

import pytest

from tests.harness import e2e, images, qemu

pytestmark = [pytest.mark.e2e, pytest.mark.images, pytest.mark.root]


def _run(tmp_path_factory, scenario: e2e.Scenario) -> e2e.Result:
    why = images.can_build() or qemu.can_run()
    if why:
        pytest.skip(why)
    timeline = os.path.join(e2e.REPO, "build", "e2e", f"timeline-{scenario.name}.json")
    try:
        return e2e.run(str(tmp_path_factory.mktemp(f"e2e-{scenario.name}")), timeline, scenario=scenario)
    except (e2e.E2EFailed, qemu.VMError) as exc:
        pytest.fail(f"{scenario.name}: {exc}\n{getattr(exc, 'details', '') or getattr(exc, 'tail', '')}",
                    pytrace=False)


@pytest.fixture(scope="module")
def uefi(tmp_path_factory):
    return _run(tmp_path_factory, e2e.UEFI)


@pytest.fixture(scope="module")
def raid_lvm(tmp_path_factory):
    return _run(tmp_path_factory, e2e.RAID_LVM)


def test_a_uefi_machine_installs_and_boots_from_its_own_nvram_entry(uefi):
    assert uefi.check["status"] == "deployed"
    assert uefi.check["host"] == e2e.HOSTNAME and uefi.check["key"] == e2e.SSH_KEY.split()[1]
    assert uefi.check["firmware"] == "uefi"
    # the second boot has no kernel given: OVMF found the entry the install wrote
    assert "grubx64.efi" in uefi.installed_console
    assert "Failed to mount" not in uefi.installed_console, "an fstab entry did not mount"


def nvram_entries(check):
    """The installed system's `efibootmgr -v`, as the check line carries it (spaces dropped)."""
    fields = dict(line.split(":", 1) for line in check.split(";") if ":" in line and not line.startswith("Boot0"))
    entries = {}
    for line in check.split(";"):
        if line.startswith("Boot") and "|" in line:
            head, _, path = line.partition("|")
            entries[head[4:8]] = (head[8:].lstrip("*"), path)
    return fields.get("BootCurrent", ""), fields.get("BootOrder", "").split(","), entries


def test_the_uefi_install_tidies_nvram_as_curtin_does(uefi):
    current, order, entries = nvram_entries(uefi.check["nvram"])
    # it booted the entry grub-install made, the only one named debian
    debian = [n for n, (name, _) in entries.items() if name == "debian"]
    assert debian == [current] and "grubx64.efi" in entries[current][1], uefi.check["nvram"]
    # the earlier install's loader was removed before grub-install
    assert not any("shimx64" in path for _, path in entries.values())
    assert "removing UEFI entry Boot0011 (debian) of an earlier install" in uefi.install_console
    # the network entry stays first (MAAS must be able to PXE the machine again), once
    lab = [n for n, (name, _) in entries.items() if name == "UEFIPXEv4(lab)"]
    assert lab == ["0010"] and order.index("0010") < order.index(current), uefi.check["nvram"]
    assert "removing UEFI entry Boot0012 (UEFI PXEv4 (lab)): it repeats another" in uefi.install_console


def test_raid1_and_lvm_are_built_and_assembled_by_the_installed_system(raid_lvm):
    assert raid_lvm.check["status"] == "deployed"
    # assembled at boot under the name the layout gave it (the initramfs has its mdadm.conf)
    assert raid_lvm.check["md"] == "md0:raid1", f"no md0 RAID1 array at boot: {raid_lvm.check}"
    # /srv: the logical volume on the array, formatted xfs, mounted through fstab
    assert raid_lvm.check["srv"] == "/dev/mapper/vg0-data,xfs", raid_lvm.check
    curtin = [e for e in raid_lvm.events if e.get("kind") == "event" and e.get("origin") == "curtin"]
    assert any(e["name"] == "cmd-install/stage-partitioning" and e["event_type"] == "finish"
               and e.get("result") == "SUCCESS" for e in curtin)
