"""Boot a QEMU VM for the end-to-end tests and watch its serial console.

- KVM is used only when it demonstrably works: a probe boots the given
  kernel under KVM for a few seconds and must see it run to its (expected)
  panic.  /dev/kvm existing proves nothing: on the test machines it exists
  and KVM guests hang (machine.md), so the probe's failure means TCG.
- Networking is QEMU's user mode: the guest reaches servers listening on the
  host's loopback through the gateway address 10.0.2.2.
- The serial console goes to a log file; `wait_for` polls it for a regex
  and, on timeout or an early exit, raises with the log's tail attached.
- `VM` is a context manager and always kills QEMU, whatever happened.

    with VM(VMSpec("eph", workdir, kernel=k, initrd=i, cmdline=c)) as vm:
        vm.wait_for(r"Cloud-init v\\. \\S+ running 'init'", timeout=600)
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

QEMU = "qemu-system-x86_64"
HOST_FROM_GUEST = "10.0.2.2"  # user-mode networking's gateway: the host's loopback
ACCEL_ENV = "MAASLIKE_QEMU_ACCEL"  # "kvm" or "tcg" skips the probe
OVMF_PAIRS = (  # (code, vars template) as Debian's ovmf package installs them
    ("/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"),
    ("/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd"),
)
PROBE_SECONDS = 8.0
TAIL_LINES = 40

_probed: Dict[str, str] = {}


class VMError(RuntimeError):
    """The VM did not do what was awaited; `str()` is one line, `tail` the serial log's end."""

    def __init__(self, message: str, tail: str = ""):
        super().__init__(message)
        self.tail = tail

    def report(self) -> str:
        return f"{self}\n--- serial console, last lines ---\n{self.tail}"


class BootTimeout(VMError):
    pass


class VMExited(VMError):
    pass


class GuestFailed(VMError):
    """The guest said it failed (emergency mode, a panic): no point waiting out the timeout."""


# What a Debian guest prints when its boot has gone wrong for good.
BOOT_FAILED = (r"You are in emergency mode|Kernel panic - not syncing|"
               r"Give root password for maintenance|Press Enter for maintenance")


def can_run() -> Optional[str]:
    """None when VMs can be started here, else why not."""
    if shutil.which(QEMU) is None:
        return f"{QEMU} not installed (Debian package qemu-system-x86)"
    return None


def ovmf() -> Optional[Tuple[str, str]]:
    """(code, vars template) of the UEFI firmware, or None without the ovmf package."""
    for code, variables in OVMF_PAIRS:
        if os.path.isfile(code) and os.path.isfile(variables):
            return code, variables
    return None


def detect_accel(probe_kernel: Optional[str] = None, seconds: float = PROBE_SECONDS) -> str:
    """"kvm" if a kernel boots under KVM within `seconds`, else "tcg".

    The probe boots `probe_kernel` with no root device: a working KVM takes
    it to "Kernel panic" (VFS cannot mount root) in about a second.  Whether
    KVM works is a property of the host, so without a kernel the answer of
    an earlier probe in this process is used; with none, TCG (no proof).
    """
    forced = os.environ.get(ACCEL_ENV)
    if forced in ("kvm", "tcg"):
        return forced
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg"
    if probe_kernel is None:
        return next(iter(_probed.values()), "tcg")
    if probe_kernel not in _probed:
        _probed[probe_kernel] = "kvm" if _kvm_boots(probe_kernel, seconds) else "tcg"
    return _probed[probe_kernel]


def _kvm_boots(kernel: str, seconds: float) -> bool:
    with tempfile.TemporaryDirectory(prefix="kvm-probe-") as tmp:
        log = os.path.join(tmp, "serial.log")
        argv = [QEMU, "-accel", "kvm", "-cpu", "host", "-m", "256", "-nodefaults", "-display", "none",
                "-no-reboot", "-chardev", f"file,id=s0,path={log}", "-serial", "chardev:s0",
                "-kernel", kernel, "-append", "console=ttyS0 panic=-1 loglevel=4"]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline and proc.poll() is None:
                if "Kernel panic" in _read(log):
                    return True
                time.sleep(0.2)
            return "Kernel panic" in _read(log)
        finally:
            _kill(proc)


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except FileNotFoundError:
        return ""


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


@dataclass
class VMSpec:
    name: str
    workdir: str
    memory_mib: int = 1536
    cpus: int = 2
    kernel: Optional[str] = None
    initrd: Optional[str] = None
    cmdline: str = ""
    disks: Sequence[str] = ()
    uefi: bool = False
    mac: str = "52:54:00:12:34:56"
    accel: Optional[str] = None  # None: detect_accel(kernel or probe_kernel)
    # A kernel to probe KVM with when the VM boots a disk (e.g. an image's boot-kernel).
    probe_kernel: Optional[str] = None
    extra_args: List[str] = field(default_factory=list)

    @property
    def bootif(self) -> str:
        """PXELINUX's BOOTIF= value for this VM's NIC (IPAPPEND 2, which MAAS uses)."""
        return "01-" + self.mac.replace(":", "-").lower()


class VM:
    """A running QEMU; use as a context manager so it is always killed."""

    def __init__(self, spec: VMSpec):
        self.spec = spec
        os.makedirs(spec.workdir, exist_ok=True)
        self.serial_log = os.path.join(spec.workdir, f"{spec.name}.serial.log")
        self.qemu_log = os.path.join(spec.workdir, f"{spec.name}.qemu.log")
        self.accel = spec.accel or detect_accel(spec.kernel or spec.probe_kernel)
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.started = 0.0

    def argv(self) -> List[str]:
        spec = self.spec
        argv = [QEMU, "-name", spec.name, "-machine", "q35", "-accel", self.accel,
                "-cpu", "host" if self.accel == "kvm" else "max",
                "-smp", str(spec.cpus), "-m", str(spec.memory_mib),
                "-nodefaults", "-display", "none", "-no-reboot",
                "-chardev", f"file,id=serial0,path={self.serial_log}", "-serial", "chardev:serial0",
                "-netdev", "user,id=net0",
                "-device", f"virtio-net-pci,netdev=net0,mac={spec.mac}",
                "-device", "virtio-rng-pci"]
        if spec.uefi:
            firmware = ovmf()
            if firmware is None:
                raise VMError(f"{spec.name}: UEFI asked for but no OVMF firmware (Debian package ovmf)")
            code, template = firmware
            variables = os.path.join(spec.workdir, f"{spec.name}.OVMF_VARS.fd")
            if not os.path.exists(variables):
                shutil.copyfile(template, variables)
            argv += ["-drive", f"if=pflash,format=raw,readonly=on,file={code}",
                     "-drive", f"if=pflash,format=raw,file={variables}"]
        if spec.kernel:
            argv += ["-kernel", spec.kernel, "-append", spec.cmdline]
            if spec.initrd:
                argv += ["-initrd", spec.initrd]
        for index, disk in enumerate(spec.disks):
            fmt = "qcow2" if disk.endswith(".qcow2") else "raw"
            argv += ["-drive", f"file={disk},format={fmt},if=virtio,cache=unsafe,index={index}"]
        return argv + list(spec.extra_args)

    def start(self) -> VM:
        for path in (self.serial_log, self.qemu_log):
            if os.path.exists(path):
                os.unlink(path)
        with open(self.qemu_log, "w") as log:
            log.write(" ".join(self.argv()) + "\n")
            log.flush()
            self.proc = subprocess.Popen(self.argv(), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        self.started = time.monotonic()
        return self

    def __enter__(self) -> VM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def serial(self) -> str:
        return _read(self.serial_log)

    def tail(self, lines: int = TAIL_LINES) -> str:
        text = self.serial().replace("\r", "")
        return "\n".join(text.splitlines()[-lines:])

    def wait_for(self, pattern: str, timeout: float, what: Optional[str] = None,
                 fail_on: Optional[str] = None) -> re.Match[str]:
        """The first match of `pattern` on the serial console, waiting up to `timeout` s.

        `fail_on`: a pattern that, once on the console, means `pattern` will never come.
        """
        regex = re.compile(pattern)
        failed = re.compile(fail_on) if fail_on else None
        what = what or f"/{pattern}/"
        deadline = time.monotonic() + timeout
        while True:
            console = self.serial()
            found = regex.search(console)
            if found:
                return found
            gone = failed.search(console) if failed else None
            if gone:
                raise GuestFailed(f"{self.spec.name}: the guest printed {gone.group(0)!r} after "
                                  f"{self.elapsed:.0f}s, before {what} ({self.serial_log})", self.tail())
            if self.proc is not None and self.proc.poll() is not None:
                qemu = _read(self.qemu_log).strip().splitlines()[-1:]
                raise VMExited(f"{self.spec.name}: QEMU exited ({self.proc.returncode}) after "
                               f"{self.elapsed:.0f}s before {what} appeared on the serial console "
                               f"({self.serial_log}; qemu said: {' '.join(qemu) or 'nothing'})",
                               self.tail())
            if time.monotonic() >= deadline:
                raise BootTimeout(f"{self.spec.name}: no {what} on the serial console within "
                                  f"{timeout:.0f}s ({self.accel}, {self.serial_log})", self.tail())
            time.sleep(0.5)

    def wait_exit(self, timeout: float) -> int:
        """QEMU's exit status once the guest powers off (-no-reboot: a reboot exits too)."""
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise BootTimeout(f"{self.spec.name}: still running {timeout:.0f}s after it should have "
                              f"powered off ({self.serial_log})", self.tail()) from None

    def stop(self) -> None:
        if self.proc is not None:
            _kill(self.proc)
