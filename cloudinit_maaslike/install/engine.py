"""The engine: runs the stages in order and owns everything around them.

A stage only runs its commands.  The engine owns the order, the environment,
the log prefix, the timing, the events (``cmd-install``,
``cmd-install/stage-<name>``, ``…/<command key>``), and what happens at the
end: loading the installed kernel when ``kexec`` asks for it, error tarball,
copies into the target, unmounting, the final event with the post files and
the timings, the legacy signal, power_state.

`run(until=…)` lets one cloud-init module per stage drive the same install:
each call runs the stages not yet done, in the config's order, up to the one
named; progress is kept on disk, so a stage never runs twice and nothing runs
after a failure.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from typing import Callable, Dict, List, NoReturn, Optional, Sequence

from ..clockskew import ServerClock
from ..config.model import Command, InstallConfig, PowerState, Stage
from ..errors import MaaslikeError
from ..mounts import unmount_all
from ..reporting import FAIL, ROOT, SUCCESS, PostedFile, Reporter, stage_event
from ..runner import CommandFailed, ProgramNotStarted, run_streaming
from .builtins import BUILTINS
from .context import StepContext
from .environment import command_environment, write_curtin_command
from .finish import save_failed_install, save_into_target, schedule_power, write_error_tarball, write_report
from .installlog import InstallLog, secret_values
from .kexec import KEXEC_POWER, load_installed_kernel
from .progress import CommandTiming, Progress, StageTiming
from .workdir import WorkDir

# How long the install waits for reporting, at most: after a cloud-init
# module that ran only some stages, and at the very end.
STAGE_FLUSH_TIMEOUT = 2.0
FINAL_FLUSH_TIMEOUT = 5.0


class InstallFailed(MaaslikeError):
    """The install stopped in `stage`; the message is redacted, safe to show."""

    exit_code = 3

    def __init__(self, stage: str, message: str):
        self.stage = stage
        super().__init__(message)


class StageInterrupted(MaaslikeError):
    """A stage began in an earlier process that ended before the stage did."""

    exit_code = 3

    def __init__(self, stage: str):
        super().__init__(f"stage {stage}: interrupted: the process running it ended before it finished;"
                         " the stage is not run again on a half-done target")


def describe_unexpected(exc: BaseException) -> str:
    """One line for an exception that is not ours: its kind, its reason and the file it names."""
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{type(exc).__name__}: {exc.strerror or exc}{where}"
    text = " ".join(str(exc).split()) or "no details"
    return f"{type(exc).__name__}: {text[:500]}"


class Installer:
    def __init__(
        self,
        config: InstallConfig,
        work: WorkDir,
        *,
        python_paths: Sequence[str] = (),
        console: bool = True,
        propagate: bool = True,
        clock: Optional[ServerClock] = None,
    ):
        self.config = config
        self.work = work
        self.python_paths = tuple(python_paths)
        self.progress = Progress.load(work.progress_file)
        resumed = self.progress.started_event
        self.installlog = InstallLog(
            config.install.log_file,
            secret_values(config.raw),
            append=resumed or config.install.log_file_append,
            console=console,
            propagate=propagate,
        )
        self.log: logging.Logger = self.installlog.logger
        self.reporter = Reporter(config, clock, self.log, dead_hooks=self.progress.dead_hooks)
        write_curtin_command(work)  # also (re)makes the package link a resumed older work dir lacks

    # -- running -------------------------------------------------------------
    def pending(self, until: Optional[str] = None) -> List[Stage]:
        names = [s.name for s in self.config.stages]
        if until is not None:
            if until not in names:
                return []
            names = names[: names.index(until) + 1]
        return [s for s in self.config.stages if s.name in names and not self.progress.done(s.name)]

    def run(self, until: Optional[str] = None) -> Progress:
        """Run pending stages up to `until` (all when None); raise on failure."""
        try:
            if self.progress.failed_stage:
                self.log.info("install already failed in stage %s; not running %s",
                              self.progress.failed_stage, until or "the rest")
                return self.progress
            if self.progress.finished:
                return self.progress
            if not self.progress.started_event:
                self.reporter.start(ROOT, "curtin command install")
                self.progress.started_event = True
                self.progress.save(self.work.progress_file)
            if self.progress.running_stage:
                self._fail(self.progress.running_stage, StageInterrupted(self.progress.running_stage))
            for stage in self.pending(until):
                try:
                    self._run_stage(stage)
                except Exception as exc:  # noqa: BLE001 - every failure of a stage is reported
                    self._fail(stage.name, exc)
            if not self.pending():
                self._finish(None, "", power=self._kexec() if self.config.kexec else None)
            else:
                self._flush(STAGE_FLUSH_TIMEOUT)
            return self.progress
        finally:
            self.installlog.close()

    def _fail(self, stage: str, exc: BaseException, prefix: Optional[str] = None) -> NoReturn:
        """The one failure path: events, error tarball, signal FAILED, unmount, exit 3.

        The message starts with `prefix` (``stage <stage>:`` unless given), so
        a failure outside any stage, such as kexec's, does not claim one.
        """
        trace = ""
        if isinstance(exc, MaaslikeError):
            reason = str(exc)
        else:  # a bug or an unexpected OS error: one line everywhere, the traceback in the error tarball
            reason = describe_unexpected(exc)
            trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        message = self.installlog.redact(reason)
        prefix = prefix or f"stage {stage}:"
        if not message.startswith(prefix):
            message = f"{prefix} {message}"
        tail = getattr(exc, "tail", ())
        detail = message + ("\nlast output:\n" + "\n".join(tail) if tail else "")
        detail += "\n" + self.installlog.redact(trace) if trace else ""
        if isinstance(exc, StageInterrupted):  # its start went out from the process that died
            self.progress.stages.append(StageTiming(stage, FAIL, 0.0))
            self.reporter.finish(stage_event(stage), f"{stage} stage", FAIL)
        self.progress.running_stage = None
        self._finish(stage, message, detail)
        raise InstallFailed(stage, message) from None

    def _flush(self, timeout: float) -> None:
        """Let queued events go out; remember endpoints given up on."""
        self.reporter.flush(timeout)
        self.progress.dead_hooks = self.reporter.dead_hooks()
        self.progress.save(self.work.progress_file)

    def _run_stage(self, stage: Stage) -> None:
        name = stage_event(stage.name)
        description = f"{stage.name} stage"
        self.log.info("-- stage %s: %d command(s)", stage.name, len(stage.commands))
        self.reporter.start(name, description)
        timing = StageTiming(stage.name, SUCCESS, 0.0)
        started = time.monotonic()
        self.progress.running_stage = stage.name
        self.progress.save(self.work.progress_file)
        try:
            for command in stage.commands:
                timing.commands.append(self._run_command(stage.name, name, command))
        except Exception:
            timing.result = FAIL
            timing.seconds = time.monotonic() - started
            self.progress.stages.append(timing)
            self.reporter.finish(name, description, FAIL)
            raise
        self.progress.running_stage = None
        timing.seconds = time.monotonic() - started
        self.progress.stages.append(timing)
        self.progress.save(self.work.progress_file)
        self.log.info("-- stage %s: done in %.2f s", stage.name, timing.seconds)
        self.reporter.finish(name, description, SUCCESS)

    def _run_command(self, stage: str, stage_name: str, command: Command) -> CommandTiming:
        event = f"{stage_name}/{command.key}"
        description = f"running '{command.display}'"
        env = command_environment(self.config, self.work, event, self.python_paths)
        prefix = f"[{stage}/{command.key}] "
        self.reporter.start(event, description)
        started = time.monotonic()
        builtin = command.is_builtin_form and command.argv is not None and command.argv[1] in BUILTINS
        returncode: Optional[int] = 0
        try:
            if builtin:
                assert command.argv is not None
                ctx = StepContext(self.config, self.work, stage, event, env, self.log,
                                  self.installlog.redact, self.python_paths,
                                  notify=self._notifier(event), event=self.reporter.event)
                BUILTINS[command.argv[1]](ctx, command.argv[2:])
            else:
                argv = list(command.argv) if command.argv is not None else ["sh", "-c", str(command.shell)]
                try:
                    done = run_streaming(argv, env, self.log, prefix=prefix, cwd=self.work.scratch,
                                         redact=self.installlog.redact)
                except ProgramNotStarted as exc:
                    raise CommandFailed(stage, command.key, command.display, None, why=str(exc)) from None
                returncode = done.returncode
                if returncode != 0:
                    raise CommandFailed(stage, command.key, command.display, returncode, done.tail)
        except Exception:
            self.reporter.finish(event, description, FAIL)
            raise
        self.reporter.finish(event, description, SUCCESS)
        return CommandTiming(command.key, self.installlog.redact(command.display),
                             time.monotonic() - started, returncode, builtin)

    def _notifier(self, event: str) -> Callable[[str], None]:
        """Progress of a long step: a log line and an event MAAS shows."""

        def notify(text: str) -> None:
            self.reporter.start(f"{event}/progress", text)  # logged by the reporter too

        return notify

    # -- the end -------------------------------------------------------------
    def _kexec(self) -> Optional[PowerState]:
        """Load the installed kernel while the target is still mounted; the reboot that runs it, if loaded.

        Its failure is the install's: reported like a stage's, as curtin
        fails the install when ``kexec -l`` fails.
        """
        event, description = f"{ROOT}/kexec", "loading the installed kernel with kexec"
        self.reporter.start(event, description)
        env = command_environment(self.config, self.work, event, self.python_paths)
        try:
            loaded = load_installed_kernel(self.work.target, env, self.log, self.installlog.redact)
        except Exception as exc:  # noqa: BLE001 - reported as the install's failure
            self.reporter.finish(event, description, FAIL)
            self._fail("kexec", exc, prefix="kexec:")
        self.reporter.finish(event, description, SUCCESS)
        return KEXEC_POWER if loaded else None

    def _finish(self, failed_stage: Optional[str], error: str, detail: str = "",
                power: Optional[PowerState] = None) -> None:
        """Everything after the last stage; `power` replaces the configured power_state (kexec's reboot)."""
        config, work, log = self.config, self.work, self.log
        result = FAIL if failed_stage else SUCCESS
        self.progress.failed_stage = failed_stage
        self.progress.error = self.installlog.redact(error)
        if failed_stage:
            log.error("install failed: %s", error)  # error names the stage
            if config.install.error_tarfile:
                self._safely("error tarball", lambda: write_error_tarball(
                    str(config.install.error_tarfile), config, config.install.log_file,
                    detail or error, self.installlog.redact))
                log.info("error tarball: %s", config.install.error_tarfile)
        if failed_stage:
            self._safely("saving the config and log", lambda: log.info(
                "config and log of the failed install: %s",
                ", ".join(save_failed_install(config, work, config.install.log_file,
                                              self.installlog.redact))))
        else:
            self._safely("saving into the target",
                         lambda: save_into_target(config, work, config.install.log_file, log,
                                                  self.installlog.redact))
        if config.install.unmount:
            self._safely("unmounting the target", lambda: self._unmount())
        report = write_report(work, self.progress, result)
        log.info("install %s in %.1f s (%s)", "failed" if failed_stage else "finished",
                 report["total_seconds"],
                 ", ".join(f"{s['name']} {s['seconds']:.2f}s" for s in report["stages"]))
        files = self._post_files()
        timings = {s["name"]: s["seconds"] for s in report["stages"]}
        self.reporter.finish(ROOT, "curtin command install", result, files,
                             extra={"timings": timings, "total_seconds": report["total_seconds"]})
        self.reporter.signal("FAILED" if failed_stage else "OK", self.progress.error,
                             {f.path: f.content for f in files})
        self._flush(FINAL_FLUSH_TIMEOUT)
        self.progress.finished = True
        self.progress.save(work.progress_file)
        power = power or config.power_state
        if not failed_stage and power is not None:
            schedule_power(power, os.environ, log)

    def _unmount(self) -> None:
        done = unmount_all(self.work.target)
        if done:
            self.log.info("unmounted %s", ", ".join(done))

    def _post_files(self) -> List[PostedFile]:
        files = []
        for path in self.config.install.post_files:
            try:
                with open(path, "rb") as handle:
                    data = handle.read()
            except OSError:
                continue
            files.append(PostedFile(path, self.installlog.redact(data.decode("utf-8", "replace")).encode()))
        return files

    def _safely(self, what: str, step) -> None:  # type: ignore[no-untyped-def]
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - the install's own result must stand
            self.log.warning("%s failed: %s", what, exc)


def summary(progress: Progress) -> Dict[str, float]:
    return progress.timings()
