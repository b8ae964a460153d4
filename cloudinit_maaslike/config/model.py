"""The install config as typed, frozen objects.

The merged dict is parsed once (see `parse`); the engine and its stages read
these objects.  The parts (storage, sources, network) parse their sections
with the validators the engine passes in, and the results are kept in
``sections``.  The raw dict is kept to hand the curtin-compatible ``CONFIG``
file to commands and hooks, and for the curthooks, whose signature is
curtin's (``builtin_curthooks(cfg, target, state)``) and takes the dict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping, Optional, Tuple

from ..oauth import Credentials

CONFIG_VERSION = 1


@dataclass(frozen=True)
class Command:
    """One entry of ``<stage>_commands``: a list runs directly, a string via sh -c."""

    key: str
    argv: Optional[Tuple[str, ...]] = None
    shell: Optional[str] = None

    @property
    def display(self) -> str:
        if self.argv is not None:
            return " ".join(self.argv)
        return str(self.shell)

    @property
    def is_builtin_form(self) -> bool:
        """``[curtin, <subcommand>, …]``: run natively instead of as a process."""
        return self.argv is not None and len(self.argv) >= 2 and self.argv[0] == "curtin"


@dataclass(frozen=True)
class Stage:
    name: str
    commands: Tuple[Command, ...]


@dataclass(frozen=True)
class DownloadSettings:
    """When an image download counts as stalled (``install: download_*``).

    Stalled: fewer than ``min_rate * stall_seconds`` bytes arrived in the last
    ``stall_seconds`` of waiting on the network (so also: no byte at all for
    that long).  A stalled download is resumed where it stopped, at most
    ``stall_retries`` times in a row, then the stage fails.  With the
    defaults a dripping server is given up on after about 90 s.
    """

    stall_seconds: float = 30.0
    min_rate: int = 16384  # bytes per second; 0: only a complete silence is a stall
    stall_retries: int = 2


@dataclass(frozen=True)
class InstallSettings:
    log_file: Optional[str] = "/var/log/curtin/install.log"
    log_file_append: bool = False
    error_tarfile: Optional[str] = "/var/log/curtin/curtin-error-logs.tar"
    post_files: Tuple[str, ...] = ("/var/log/curtin/install.log",)
    save_install_config: Optional[str] = "/root/curtin-install-cfg.yaml"
    save_install_log: Optional[str] = "/root/curtin-install.log"
    target: Optional[str] = None
    unmount: bool = True
    download: DownloadSettings = field(default_factory=DownloadSettings)
    # curtin's: more rsync arguments for copies of cp:// and filesystem images
    extra_rsync_args: Tuple[str, ...] = ()


@dataclass(frozen=True)
class Webhook:
    name: str
    endpoint: str
    credentials: Optional[Credentials] = None
    timeout: float = 5.0
    retries: int = 2


@dataclass(frozen=True)
class LegacyMaasReporter:
    """``reporter: maas:``: one multipart ``op=signal`` at the end."""

    url: str
    credentials: Optional[Credentials] = None


@dataclass(frozen=True)
class PowerState:
    mode: str  # reboot | poweroff | halt; kexec (not a config value: the reboot after kexec's load)
    delay: str = "now"
    message: Optional[str] = None


@dataclass(frozen=True)
class InstallConfig:
    stages: Tuple[Stage, ...]
    install: InstallSettings = field(default_factory=InstallSettings)
    webhooks: Tuple[Webhook, ...] = ()
    log_reporting: bool = True
    legacy_reporter: Optional[LegacyMaasReporter] = None
    power_state: Optional[PowerState] = None
    # ``kexec: {mode: "on"}``: after the stages, load the target's default grub entry and reboot into it.
    kexec: bool = False
    proxy: Mapping[str, str] = field(default_factory=dict)
    verbosity: int = 0
    showtrace: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)
    # The parts' own sections (storage, sources, network) as their validators
    # parsed them: stages read these, never the raw section again.
    sections: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    version: int = CONFIG_VERSION

    def parsed(self, name: str, default: Any = None) -> Any:
        """Section `name` as its part parsed it at validation (`default` when the config has none)."""
        if name in self.sections:
            return self.sections[name]
        if self.raw.get(name) is not None:
            raise LookupError(f"the {name} section was not validated with its part's validator")
        return default

    def stage(self, name: str) -> Optional[Stage]:
        for stage in self.stages:
            if stage.name == name:
                return stage
        return None
