"""UEFI boot entries after grub-install: curtin's removals and order, decided from efibootmgr's output."""

from __future__ import annotations

import logging

import pytest

from cloudinit_maaslike import runner
from cloudinit_maaslike.curthooks import bootloader, nvram
from cloudinit_maaslike.curthooks.context import HookContext, StepFailed
from cloudinit_maaslike.runner import Finished
from tests.fakerunner import FakeRunner

# A MAAS machine PXE-booted into the installer (Boot0003), with an old install's entry (Boot0001).
BEFORE = (
    "BootCurrent: 0003\n"
    "Timeout: 0 seconds\n"
    "BootOrder: 0003,0001,0000,0002,0004\n"
    "Boot0000* UiApp\tFvVol(7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1)/FvFile(462caa21-7614-4503-836e-8ab6f4662331)\n"
    "Boot0001* debian\tHD(15,GPT,e136567c-e0d9-3f49-bb29-92c251d466f3,0x800,0x100000)/File(\\EFI\\debian\\"
    "shimx64.efi)\n"
    "Boot0002* UEFI Misc Device\tPciRoot(0x0)/Pci(0x3,0x0){auto_created_boot_option}\n"
    "Boot0003* UEFI PXEv4 (MAC:525400E2E001)\tPciRoot(0x0)/Pci(0x1,0x0)/MAC(525400e2e001,1)/IPv4(0.0.0.0:0<->"
    "0.0.0.0:0,0,0){auto_created_boot_option}\n"
    "Boot0004* EFI Internal Shell\tFvVol(7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1)/FvFile(7c04a583-9e3e-4f1c-ad65-"
    "e05268d0b4d1)\n"
)
ESP = "HD(15,GPT,e136567c-e0d9-3f49-bb29-92c251d466f3,0x800,0x100000)/File(\\EFI\\debian\\grubx64.efi)"


def state(current, order, entries):
    return nvram.BootState(current, tuple(order), {n: nvram.BootEntry(name, path) for n, (name, path) in
                                                   entries.items()})


def test_efibootmgr_output_is_read_into_entries_and_an_order_of_existing_entries():
    parsed = nvram.parse(BEFORE.replace("BootOrder: 0003,", "BootOrder: 0003,0009,"))
    assert parsed.current == "0003"
    assert parsed.order == ("0003", "0001", "0000", "0002", "0004")  # 0009 has no entry line
    assert parsed.entries["0001"] == nvram.BootEntry(
        "debian", "HD(15,GPT,e136567c-e0d9-3f49-bb29-92c251d466f3,0x800,0x100000)/File(\\EFI\\debian\\shimx64.efi)")
    assert parsed.entries["0003"].name == "UEFI PXEv4 (MAC:525400E2E001)"


def test_an_entry_line_without_a_device_path_is_not_an_entry():
    parsed = nvram.parse("BootOrder: 0000,0001\nBoot0000* debian\nBoot0001* UiApp\tFvVol(x)\n")
    assert set(parsed.entries) == {"0001"} and parsed.order == ("0001",) and parsed.current == ""


def test_old_loaders_are_the_esp_files_but_the_one_that_booted():
    assert nvram.old_loaders(nvram.parse(BEFORE)) == ["0001"]
    booted_from_disk = nvram.parse(BEFORE.replace("BootCurrent: 0003", "BootCurrent: 0001"))
    assert nvram.old_loaders(booted_from_disk) == []


PXE, DEB, SHELL, HTTP = ("UEFI PXEv4 (MAC:52)", "p"), ("debian", ESP), ("EFI Internal Shell", "s"), \
    ("UEFI HTTPv4 (MAC:52)", "h")


@pytest.mark.parametrize("current,order,entries,force,expected", [
    pytest.param("0003", ["0005", "0003", "0000"], {"0005": DEB, "0003": PXE, "0000": SHELL}, False,
                 ["0003", "0005", "0000"], id="BootCurrent goes first"),
    pytest.param("0003", ["0003", "0005"], {"0005": DEB, "0003": PXE}, False, ["0003", "0005"],
                 id="BootCurrent already first: set all the same"),
    pytest.param("", ["0005", "0000", "0003", "0006"], {"0005": DEB, "0000": SHELL, "0003": PXE, "0006": HTTP},
                 False, ["0003", "0005", "0000", "0006"], id="no BootCurrent: network, the OS, the rest"),
    pytest.param("0000", ["0005", "0000", "0003"], {"0005": DEB, "0000": SHELL, "0003": PXE}, True,
                 ["0003", "0005", "0000"], id="forced fallback ignores BootCurrent"),
    pytest.param("", ["0003", "0005", "0000"], {"0005": DEB, "0000": SHELL, "0003": PXE}, False, None,
                 id="fallback changes nothing: left"),
    pytest.param("", ["0005"], {"0005": DEB}, False, None, id="one entry: left"),
    pytest.param("", ["0001", "0002"], {"0001": ("Debian", "x"), "0002": ("NIC boot", "n")}, False,
                 ["0002", "0001"], id="names match without case"),
])
def test_the_new_boot_order_is_curtins(current, order, entries, force, expected):
    assert nvram.new_order(state(current, order, entries), "debian", force) == expected


def test_duplicates_keep_bootcurrent_then_the_lowest_number():
    entries = {"0001": DEB, "0004": DEB, "0002": PXE, "0003": PXE, "0000": SHELL}
    assert nvram.duplicates(state("0003", ["0000"], entries)) == ["0002", "0004"]
    assert nvram.duplicates(state("", ["0000"], entries)) == ["0003", "0004"]


def test_settings_convert_as_curtin_does():
    """update_nvram and the forced fallback read 'false' as false; the other three take Python truth."""
    nv = nvram.NvramSettings.from_boot({"update_nvram": "false", "reorder_uefi": "false",
                                        "reorder_uefi_force_fallback": "yes", "remove_duplicate_entries": 0})
    assert nv == nvram.NvramSettings(update_nvram=False, remove_old_uefi_loaders=True, reorder_uefi=True,
                                     reorder_uefi_force_fallback=True, remove_duplicate_entries=False)


class UefiTarget:
    """A target whose efibootmgr replays NVRAM: grub-install adds the new entry, -o and -B change it."""

    def __init__(self, tmp_path, efibootmgr=True):
        self.root, self.host = tmp_path / "target", tmp_path / "host"
        (self.host / "proc").mkdir(parents=True)
        (self.host / "proc/cmdline").write_text("ro console=ttyS0")
        (self.host / "sys/firmware/efi").mkdir(parents=True)
        for d in ("usr/sbin", "usr/bin", "etc/default/grub.d", "var/lib/dpkg", "boot/efi"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        for tool in ("usr/sbin/grub-install", "usr/bin/debconf-set-selections") + (
                ("usr/bin/efibootmgr",) if efibootmgr else ()):
            (self.root / tool).touch()
        (self.root / "etc/os-release").write_text("ID=debian\n")
        (self.root / "etc/default/grub").write_text('GRUB_CMDLINE_LINUX_DEFAULT=""\n')
        (self.root / "var/lib/dpkg/status").write_text("")
        self.nvram = nvram.parse(BEFORE)
        self.calls = []

    def render(self):
        lines = [f"BootCurrent: {self.nvram.current}", f"BootOrder: {','.join(self.nvram.order)}"]
        lines += [f"Boot{n}* {e.name}\t{e.path}" for n, e in sorted(self.nvram.entries.items())]
        return "\n".join(lines) + "\n"

    def in_target(self, argv, stdin, capture=False):
        argv = tuple(argv)
        self.calls.append(argv)
        entries, order = dict(self.nvram.entries), list(self.nvram.order)
        if argv[:2] == ("efibootmgr", "-v"):
            return Finished(0, 0.0, (), self.render() if capture else None)
        if argv[0] == "grub-install":  # a new entry, first, as grub does, plus a stray copy of it
            entries["0005"] = entries["0006"] = nvram.BootEntry("debian", ESP)
            order = ["0005"] + order + ["0006"]
        elif argv[:2] == ("efibootmgr", "-B"):
            entries.pop(argv[3])
            order.remove(argv[3])
        elif argv[:2] == ("efibootmgr", "-o"):
            order = argv[2].split(",")
        elif argv[0] == "efibootmgr" and argv[2] == "--delete-bootnum":
            number = argv[1].split("=")[1]
            entries.pop(number)
            order = [n for n in order if n != number]
        self.nvram = nvram.BootState(self.nvram.current, tuple(order), entries)
        return Finished(0, 0.0, (), None)

    def install(self, boot):
        ctx = HookContext(cfg={"boot": boot}, target=str(self.root), state={}, log=logging.getLogger("test"),
                          in_target=self.in_target, host_root=str(self.host))
        with runner.replaced(FakeRunner({"findmnt": "/dev/vda15\n"})):
            return bootloader.install_bootloader(ctx)


def test_a_maas_machine_keeps_booting_from_the_network_first_with_one_entry_for_the_new_system(tmp_path):
    target = UefiTarget(tmp_path)
    done = target.install({})
    nv = [c for c in target.calls if c[0] in ("efibootmgr", "grub-install")]
    assert nv[:3] == [("efibootmgr", "-v"), ("efibootmgr", "-B", "-b", "0001"), nv[2]]
    assert nv[2][0] == "grub-install" and "--no-nvram" not in nv[2]
    assert ("efibootmgr", "-o", "0003,0005,0000,0002,0004,0006") in nv
    assert nv[-1] == ("efibootmgr", "--bootnum=0006", "--delete-bootnum")
    assert target.nvram.order == ("0003", "0005", "0000", "0002", "0004")
    assert "UEFI entry Boot0001 removed" in done and "UEFI entry Boot0006 removed (duplicate)" in done


def test_each_nvram_edit_can_be_turned_off(tmp_path):
    target = UefiTarget(tmp_path)
    target.install({"remove_old_uefi_loaders": False, "reorder_uefi": False, "remove_duplicate_entries": False})
    assert [c for c in target.calls if c[0] == "efibootmgr" and c[1] != "-v"] == []
    assert target.nvram.order[0] == "0005" and "0001" in target.nvram.entries


def test_update_nvram_off_leaves_nvram_alone_and_tells_grub(tmp_path):
    target = UefiTarget(tmp_path)
    target.install({"update_nvram": False})
    assert not any(c[0] == "efibootmgr" for c in target.calls)
    assert any(c[0] == "grub-install" and "--no-nvram" in c for c in target.calls)


def test_an_image_without_efibootmgr_keeps_grubs_entries_with_a_warning(tmp_path, caplog):
    target = UefiTarget(tmp_path, efibootmgr=False)
    with caplog.at_level(logging.WARNING):
        target.install({})
    assert not any(c[0] == "efibootmgr" for c in target.calls)
    assert "no efibootmgr" in caplog.text


def test_efibootmgr_failing_fails_the_step_with_its_command(tmp_path):
    target = UefiTarget(tmp_path)

    def broken(argv, stdin, capture=False):
        if argv[0] == "efibootmgr":
            return Finished(1, 0.0, ("EFI variables are not supported on this system.",), "")
        return target.in_target(argv, stdin, capture)

    ctx = HookContext(cfg={"boot": {}}, target=str(target.root), state={}, log=logging.getLogger("test"),
                      in_target=broken, host_root=str(target.host))
    with runner.replaced(FakeRunner({"findmnt": "/dev/vda15\n"})), pytest.raises(StepFailed) as info:
        bootloader.install_bootloader(ctx)
    assert "efibootmgr -v failed (exit 1): EFI variables are not supported" in str(info.value)
