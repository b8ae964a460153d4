"""A stand-in for `cloudinit_maaslike.runner.Runner`: records commands, plays scripted answers.

Unit tests of the engine, storage and curthooks install it with
``runner.replaced(FakeRunner(...))`` to assert the exact commands, in order,
and to inject failures (an exit status, a program that cannot start, an
exception) without root and without starting anything.
"""

from __future__ import annotations

import errno
import logging
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from cloudinit_maaslike.runner import Completed, Finished, ProgramNotStarted, Runner

Answer = Union[int, str, BaseException, Callable[[Sequence[str]], Any]]


class FakeRunner(Runner):
    """`answers` maps a program name (argv[0]'s basename) or a whole command line to an answer:
    an exit status, stdout text, an exception to raise, or a function of argv."""

    def __init__(self, answers: Optional[Mapping[str, Answer]] = None, missing: Sequence[str] = ()):
        self.answers: Dict[str, Answer] = dict(answers or {})
        self.missing = set(missing)
        self.calls: List[Tuple[str, ...]] = []

    def _answer(self, argv: Sequence[str]) -> Tuple[int, str]:
        self.calls.append(tuple(argv))
        program = argv[0].rsplit("/", 1)[-1] if argv else ""
        if program in self.missing:
            raise ProgramNotStarted(argv, FileNotFoundError(errno.ENOENT, "No such file or directory"))
        answer = self.answers.get(" ".join(argv), self.answers.get(program, 0))
        if callable(answer) and not isinstance(answer, BaseException):
            answer = answer(argv)
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, str):
            return 0, answer
        return int(answer or 0), ""

    def run(self, argv: Sequence[str], **kwargs: Any) -> Completed:
        code, out = self._answer(argv)
        return Completed(tuple(argv), code, out, "" if code == 0 else f"{argv[0]}: failed\n")

    def stream(self, argv: List[str], env: Mapping[str, str], log: logging.Logger, prefix: str,
               cwd: Optional[str], capture: bool, redact: Callable[[str], str],
               stdin: Optional[str]) -> Finished:
        code, out = self._answer(argv)
        return Finished(code, 0.0, tuple(out.splitlines()[-20:]), out if capture else None)

    def spawn(self, argv: Sequence[str], **popen: Any) -> Any:
        self._answer(argv)
        raise AssertionError(f"FakeRunner cannot spawn {argv[0]}: use an integration test")

    def programs(self) -> List[str]:
        return [call[0].rsplit("/", 1)[-1] for call in self.calls]
