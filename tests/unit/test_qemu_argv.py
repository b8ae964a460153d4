"""The QEMU command line the e2e harness builds (no VM is started)."""

from __future__ import annotations

from tests.harness import qemu


def test_kernel_boot_with_user_networking_and_a_serial_log(tmp_path):
    spec = qemu.VMSpec("eph", str(tmp_path), kernel="/k", initrd="/i", cmdline="console=ttyS0",
                       disks=["/d.raw", "/e.qcow2"], accel="tcg")
    argv = qemu.VM(spec).argv()
    joined = " ".join(argv)
    assert argv[0] == qemu.QEMU
    assert "-accel tcg" in joined and "-no-reboot" in joined
    assert argv[argv.index("-kernel") + 1] == "/k"
    assert argv[argv.index("-append") + 1] == "console=ttyS0"
    assert argv[argv.index("-initrd") + 1] == "/i"
    assert "-netdev user,id=net0" in joined
    assert f"mac={spec.mac}" in joined
    assert f"path={tmp_path}/eph.serial.log" in joined
    assert "file=/d.raw,format=raw,if=virtio" in joined
    assert "file=/e.qcow2,format=qcow2,if=virtio" in joined
    assert "pflash" not in joined


def test_uefi_uses_a_private_copy_of_the_firmware_variables(tmp_path, monkeypatch):
    code, template = tmp_path / "CODE.fd", tmp_path / "VARS.fd"
    code.write_bytes(b"c")
    template.write_bytes(b"v")
    monkeypatch.setattr(qemu, "ovmf", lambda: (str(code), str(template)))
    spec = qemu.VMSpec("u", str(tmp_path / "vm"), disks=["/d.raw"], uefi=True, accel="tcg")
    joined = " ".join(qemu.VM(spec).argv())
    assert f"if=pflash,format=raw,readonly=on,file={code}" in joined
    assert f"if=pflash,format=raw,file={tmp_path}/vm/u.OVMF_VARS.fd" in joined
    assert (tmp_path / "vm" / "u.OVMF_VARS.fd").read_bytes() == b"v"


def test_bootif_is_pxelinux_style():
    assert qemu.VMSpec("x", "/tmp", mac="52:54:00:AB:cd:01").bootif == "01-52-54-00-ab-cd-01"


def test_accel_can_be_forced_and_tcg_without_proof(monkeypatch):
    monkeypatch.setenv(qemu.ACCEL_ENV, "kvm")
    assert qemu.detect_accel() == "kvm"
    monkeypatch.setenv(qemu.ACCEL_ENV, "tcg")
    assert qemu.detect_accel("/any/kernel") == "tcg"
    monkeypatch.delenv(qemu.ACCEL_ENV)
    monkeypatch.setattr(qemu, "_probed", {})
    assert qemu.detect_accel(None) == "tcg"  # nothing probed yet: no proof KVM works
    monkeypatch.setattr(qemu, "_probed", {"/k": "kvm"})
    monkeypatch.setattr(qemu.os, "access", lambda *a: True)
    assert qemu.detect_accel(None) == "kvm"  # a host property: an earlier probe answers


def test_a_guest_in_emergency_mode_fails_the_wait_at_once(tmp_path):
    """The installed system dropping to emergency mode ends the wait, not the 15-minute timeout."""
    import time

    import pytest

    vm = qemu.VM(qemu.VMSpec("installed", str(tmp_path), accel="tcg"))
    with open(vm.serial_log, "w") as handle:
        handle.write("[FAILED] Failed to mount boot-efi.mount - /boot/efi.\r\n"
                     "You are in emergency mode. After logging in, type \"journalctl -xb\"\r\n")
    started = time.monotonic()
    with pytest.raises(qemu.GuestFailed) as caught:
        vm.wait_for("MAASLIKE-CHECK", 600, "the check", fail_on=qemu.BOOT_FAILED)
    assert time.monotonic() - started < 5
    assert "'You are in emergency mode'" in str(caught.value) and "before the check" in str(caught.value)
    assert "Failed to mount" in caught.value.tail
    # without fail_on, the same console only times out
    with pytest.raises(qemu.BootTimeout):
        vm.wait_for("MAASLIKE-CHECK", 0.1)
