"""The ephemeral image boots as MAAS boots it, and its cloud-init finds `maaslike serve`.

QEMU (KVM when it demonstrably works, TCG otherwise) boots the image's kernel
and initrd with MAAS's kernel command line.  The initramfs fetches the
squashfs root from `maaslike serve --images` on the host's loopback (the
guest reaches it as 10.0.2.2), puts a tmpfs overlay on it and boots it.
cloud-init fetches the preseed named by ``cloud-config-url=``, the MAASLike
datasource crawls the node's metadata with the preseed's credentials, the
preseed's webhook reporting posts cloud-init's events to the server, and the
preseed's ``power_state`` powers the VM off at the end.  Each milestone is
asserted on the serial console or in the server's records, and timed.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from typing import Dict, List

import pytest
import yaml

from tests.harness import images, qemu
from tests.harness.kernelcmdline import ephemeral_cmdline
from tests.integration.servers import ServeProcess

pytestmark = [pytest.mark.e2e, pytest.mark.images, pytest.mark.root]

SYSTEM_ID = "eph001"
HOSTNAME = "ephemeral1"
FINAL_MESSAGE = "maaslike-e2e: cloud-init finished"
# (what, serial-console regex, seconds allowed after the previous milestone).
# Generous for TCG on two cores; KVM needs a fraction.
MILESTONES = (
    ("kernel", r"Linux version \S+", 120),
    ("network up in the initramfs", r"maaslike-rooturl: network up on \S+: \d+\.\d+\.\d+\.\d+", 240),
    ("squashfs downloaded", r"maaslike-rooturl: downloaded (\d+) bytes", 300),
    ("overlay root", r"maaslike-overlay: / is a tmpfs overlay", 120),
    ("cloud-init init-local", r"Cloud-init v\. (\S+) running 'init-local'", 300),
    ("cloud-init init (network)", r"Cloud-init v\. \S+ running 'init'", 300),
    ("cloud-init final", r"Cloud-init v\. \S+ running 'modules:final'", 600),
    ("final message", FINAL_MESSAGE, 300),
)


@pytest.fixture(scope="module")
def ephemeral() -> images.Image:
    why = images.can_build() or qemu.can_run()
    if why:
        pytest.skip(why)
    return images.ensure("ephemeral")


def inventory(path: str) -> None:
    nodes = {"nodes": [{
        "system_id": SYSTEM_ID, "hostname": HOSTNAME, "domain": "maas",
        # Ready: MAAS boots it into the ephemeral environment and powers it off
        # afterwards, with no packages to install (that needs an archive).
        "status": "ready",
        "user_data": f"#cloud-config\nfinal_message: \"{FINAL_MESSAGE} after $UPTIME s\"\n",
    }]}
    with open(path, "w") as handle:
        yaml.safe_dump(nodes, handle)


def node_events(state_dir: str) -> List[Dict]:
    path = os.path.join(state_dir, "nodes", SYSTEM_ID, "events.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as handle:
        return [json.loads(line) for line in handle if line.strip()]


def test_ephemeral_boots_over_http_and_cloud_init_uses_the_preseed(ephemeral, tmp_path, capsys):
    nodes = str(tmp_path / "nodes.yaml")
    state = str(tmp_path / "state")
    inventory(nodes)
    server = ServeProcess(nodes, state, "--images", ephemeral.path)
    vmdir = str(tmp_path / "vm")
    timings: Dict[str, float] = {}
    try:
        base = f"http://{qemu.HOST_FROM_GUEST}:{server.port}"
        spec = qemu.VMSpec("ephemeral", vmdir, memory_mib=1536, cpus=2,
                           kernel=ephemeral.file("boot-kernel"), initrd=ephemeral.file("boot-initrd"))
        spec.cmdline = ephemeral_cmdline(base, SYSTEM_ID, HOSTNAME, f"{base}/images/squashfs",
                                         spec.bootif, extra=("console=ttyS0", "panic=-1"))
        with qemu.VM(spec) as vm:
            try:
                for what, pattern, seconds in MILESTONES:
                    found = vm.wait_for(pattern, seconds, what)
                    timings[what] = round(vm.elapsed, 1)
                    if what == "squashfs downloaded":
                        assert int(found.group(1)) == os.path.getsize(ephemeral.file("squashfs"))
                    if what == "cloud-init init-local":
                        assert found.group(1).startswith("22.4")
                vm.wait_exit(300)  # the preseed's power_state: poweroff
                timings["powered off"] = round(vm.elapsed, 1)
            except qemu.VMError as exc:
                pytest.fail(exc.report(), pytrace=False)
            console = vm.serial()
        events = node_events(state)
    finally:
        server.stop()
        shutil.copy(server.log_path, os.path.join(vmdir, "server.log"))

    with capsys.disabled():
        print(f"\n[e2e] ephemeral boot ({vm.accel}): "
              + ", ".join(f"{k} {v}s" for k, v in timings.items()))

    kinds = [e.get("kind") for e in events]
    assert "preseed" in kinds, f"the node never fetched its preseed: {kinds}"
    # cloud-init's webhook reporting is configured by the preseed only: its
    # events reaching the server prove the preseed was applied and signed
    # requests work from the guest.
    names = " ".join(str(e.get("name", "")) for e in events)
    assert "init-network" in names and "modules-final" in names, names
    assert "Traceback" not in console
    assert f"{FINAL_MESSAGE} after" in console


@pytest.mark.parametrize("uefi", [False, True], ids=["bios", "uefi"])
def test_qemu_reports_an_early_exit_with_the_console_tail(ephemeral, tmp_path, uefi):
    """No initrd: the kernel panics, QEMU exits (-no-reboot) and the error says so at once."""
    if uefi and qemu.ovmf() is None:
        pytest.skip("no OVMF firmware (Debian package ovmf)")
    spec = qemu.VMSpec("panic", str(tmp_path), memory_mib=512, kernel=ephemeral.file("boot-kernel"),
                       cmdline="console=ttyS0 panic=-1", uefi=uefi)
    started = time.monotonic()
    with qemu.VM(spec) as vm, pytest.raises(qemu.VMExited) as caught:
        vm.wait_for("never printed", 300)
    assert time.monotonic() - started < 120
    assert "QEMU exited" in str(caught.value) and "\n" not in str(caught.value)
    assert "Kernel panic" in caught.value.tail
    assert ("efi: EFI v" in vm.serial()) == uefi


def test_qemu_times_out_cleanly_and_kills_the_vm(ephemeral, tmp_path):
    spec = qemu.VMSpec("timeout", str(tmp_path), memory_mib=256, kernel=ephemeral.file("boot-kernel"),
                       cmdline="console=ttyS0")
    with qemu.VM(spec) as vm:
        with pytest.raises(qemu.BootTimeout) as caught:
            vm.wait_for("never printed", 3, "a line that never comes")
        assert "no a line that never comes on the serial console within 3s" in str(caught.value)
    assert vm.proc is not None and vm.proc.poll() is not None
