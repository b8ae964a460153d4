"""What happens at the end of an install, successful or not.

The error tarball (on failure), copies of the redacted config and of the log
into the target, the install report, and power_state.  Each is a small
function the engine calls; none of them may hide the install's own result,
so their failures are logged, not raised.
"""

from __future__ import annotations

import io
import json
import logging
import os
import tarfile
import time
from typing import Any, Callable, Dict, List, Mapping, Optional

import yaml

from .. import runner, targetfs
from ..config.model import InstallConfig, PowerState
from ..privatefile import write_private
from ..redact import redact_config
from ..runner import ProgramNotStarted
from .progress import Progress
from .workdir import WorkDir

BLOCK_POWER_FILE = "/run/block-curtin-poweroff"
SYSTEMD_RUNNING = "/run/systemd/system"  # sd_booted()'s test


def _read(path: str, limit: int = 1 << 20) -> Optional[bytes]:
    try:
        with open(path, "rb") as handle:
            return handle.read(limit)
    except OSError:
        return None


def _command_output(argv: List[str]) -> bytes:
    try:
        done = runner.run(argv, timeout=10)
    except (ProgramNotStarted, runner.TimeoutExpired) as exc:
        return f"{argv[0]}: {exc}\n".encode()
    return (done.stdout + done.stderr).encode()


def write_error_tarball(path: str, config: InstallConfig, log_file: Optional[str],
                        failure: str, redact: Any) -> None:
    """Logs, the redacted config and system facts, for whoever debugs the failure."""
    members: Dict[str, bytes] = {
        "failure.txt": (redact(failure) + "\n").encode(),
        "config.json": redact(json.dumps(redact_config(dict(config.raw)), indent=1,
                                         default=str)).encode(),
        "uname.txt": (" ".join(os.uname()) + "\n").encode(),
    }
    if log_file:
        members["install.log"] = _read(log_file, 64 << 20) or b""
    for name, source in (("os-release", "/etc/os-release"), ("partitions", "/proc/partitions"),
                         ("mounts", "/proc/self/mountinfo"), ("cmdline", "/proc/cmdline")):
        data = _read(source)
        if data is not None:
            members[name] = redact(data.decode("utf-8", "replace")).encode()
    members["ip-addr.txt"] = _command_output(["ip", "-o", "addr"])
    members["lsblk.txt"] = _command_output(["lsblk", "--all", "--output",
                                            "NAME,SIZE,TYPE,FSTYPE,MOUNTPOINT"])
    buffer = io.BytesIO()
    now = time.time()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"maaslike-error/{name}")
            info.size, info.mtime, info.mode = len(data), now, 0o600
            tar.addfile(info, io.BytesIO(data))
    write_private(path, buffer.getvalue())


def target_looks_installed(target: str) -> bool:
    return targetfs.is_dir(target, "etc")


def _saved_config(config: InstallConfig, redact: Callable[[str], str]) -> str:
    return redact(yaml.safe_dump(redact_config(dict(config.raw)), default_flow_style=False))


def save_into_target(config: InstallConfig, work: WorkDir, log_file: Optional[str],
                     log: logging.Logger, redact: Callable[[str], str]) -> None:
    """The redacted config and the log, where curtin leaves them in the installed system.

    Paths are resolved inside the target, so an image whose ``/root`` or
    ``/var/log`` is a link leading out of it still gets them in its own tree.
    """
    settings = config.install
    if not target_looks_installed(work.target):
        log.info("target holds no system; not saving the install config and log into it")
        return
    if settings.save_install_config:
        targetfs.write_file(work.target, settings.save_install_config,
                            _saved_config(config, redact), mode=0o400)
    if settings.save_install_log and log_file and os.path.exists(log_file):
        targetfs.write_file(work.target, settings.save_install_log,
                            _read(log_file, 256 << 20) or b"", mode=0o400)  # curtin's mode


FAILED_CONFIG = "failed-install-cfg.yaml"
FAILED_LOG = "failed-install.log"


def save_failed_install(config: InstallConfig, work: WorkDir, log_file: Optional[str],
                        redact: Callable[[str], str]) -> List[str]:
    """A failed install keeps its config and log in the work dir, not in the half-made target.

    The target of a failed install is no system to boot; writing the files
    there would make it look like one.
    """
    saved = [os.path.join(work.top, FAILED_CONFIG)]
    write_private(saved[0], _saved_config(config, redact), mode=0o400)
    if log_file and os.path.exists(log_file):
        saved.append(os.path.join(work.top, FAILED_LOG))
        write_private(saved[1], _read(log_file, 256 << 20) or b"")
    return saved


def write_report(work: WorkDir, progress: Progress, result: str) -> Dict[str, Any]:
    report = {
        "version": 1,
        "result": result,
        "failed_stage": progress.failed_stage,
        "error": progress.error,
        "started": progress.started,
        "finished": time.time(),
        "total_seconds": round(time.time() - progress.started, 3),
        "stages": [
            {
                "name": s.name,
                "result": s.result,
                "seconds": round(s.seconds, 4),
                "commands": [
                    {"key": c.key, "command": c.command, "seconds": round(c.seconds, 4),
                     "returncode": c.returncode, "builtin": c.builtin}
                    for c in s.commands
                ],
            }
            for s in progress.stages
        ],
    }
    write_private(work.report_file, json.dumps(report, indent=1))
    return report


def sleep_argument(delay: str) -> str:
    """curtin's delay, as sleep(1) takes it: ``now`` is 0, ``+N`` is N minutes, anything else as given (seconds)."""
    if delay == "now":
        return "0"
    if delay.startswith("+") and delay[1:].isdigit():
        return f"{delay[1:]}m"
    return delay


def power_command(state: PowerState) -> List[str]:
    """``shutdown <flag> now [message]`` after curtin's delay, in a shell that first sleeps.

    The blocking file is looked for after the delay, as curtin does, so an
    operator who creates it during the delay still stops the reboot.
    """
    script = f'sleep "$1" && shift && if [ -e {BLOCK_POWER_FILE} ]; then exit 0; fi; exec "$@"'
    argv = ["sh", "-c", script, "curtin-poweroff", sleep_argument(state.delay)]
    if state.mode == "kexec" and os.path.isdir(SYSTEMD_RUNNING):
        return argv + ["systemctl", "kexec"]  # shutdown -r would go through the firmware
    flag = {"reboot": "-r", "kexec": "-r", "poweroff": "-P", "halt": "-H"}[state.mode]
    argv += ["shutdown", flag, "now"]
    if state.message:
        argv.append(state.message)
    return argv


def schedule_power(state: PowerState, env: Mapping[str, str], log: logging.Logger) -> None:
    """Ask for the reboot/poweroff after the install, unless it is blocked."""
    if os.path.exists(BLOCK_POWER_FILE):
        log.info("power_state: %s blocked by %s", state.mode, BLOCK_POWER_FILE)
        return
    argv = power_command(state)
    log.info("power_state: %s", " ".join(argv))
    try:
        runner.spawn(argv, stdin=runner.DEVNULL, stdout=runner.DEVNULL,
                     stderr=runner.DEVNULL, start_new_session=True, env=dict(env))
    except ProgramNotStarted as exc:
        log.warning("power_state: %s", exc)
