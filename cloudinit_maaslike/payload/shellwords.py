"""Read the variable assignments at the top of a shell archive, never running it.

A pack script starts with ``NAME='value'`` lines and one ``COMMAND=( … )``
array.  Their values follow bash quoting (single quotes, ``'\\''``, double
quotes, backslashes, newlines inside quotes), so this is a small bash lexer
rather than a regex.  It understands only what a header needs and refuses the
rest: an expansion (``$x``, backticks) can only be known by running the
script, so it is an error, not a guess.

The lexer is lazy: `read_assignments` stops at the first statement that is
not an assignment (the extractor code), before reaching anything it cannot
read.  It is linear in what it reads, and bounded: a caller hands it at most
`MAX_HEADER_BYTES` (saying whether the script went on past them), and no
line it reads may be longer than `MAX_HEADER_LINE`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Tuple, Union

from .limits import MAX_HEADER_BYTES, MAX_HEADER_LINE
from .model import PayloadError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NAME_REST = re.compile(r"[A-Za-z0-9_]*")
_BLANKS = re.compile(r"[ \t\r]+")
_PLAIN_RUN = re.compile(r"[^ \t\r\n;()|&<>'\"\\$`=]+")  # characters that stand for themselves
_ASSIGNMENT_START = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_BLANK = " \t\r"  # a CR is a blank so CRLF-mangled headers (MIME transports) still read
_WORD_END = " \t\r\n;()|&<>"
_DQ_ESCAPABLE = '$`"\\'


@dataclass(frozen=True)
class Token:
    kind: str  # "word", "(", ")", "end" (newline or ';'), "eof"
    line: int
    text: str = ""
    name: Optional[str] = None  # for a NAME=value word: NAME (value is text after '=')
    adjacent: bool = False  # "(" with no blank before it


def _fail(line: int, problem: str) -> PayloadError:
    return PayloadError(f"header line {line}: {problem}")


class HeaderTooLong(PayloadError):
    """The header goes on past what the lexer reads; never taken for its end."""


class _Lexer:
    def __init__(self, text: str, cut: bool = False) -> None:
        self.text = text
        self.cut = cut  # `text` is the first MAX_HEADER_BYTES of a longer header
        self.pos = 0
        self.line = 1
        self.word_start = 0

    def _past_the_end(self, problem: str) -> PayloadError:
        if self.cut:
            return HeaderTooLong(f"header line {self.line}: the header goes on past {MAX_HEADER_BYTES} bytes")
        return _fail(self.line, problem)

    def at_assignment(self) -> bool:
        """Whether the token being read starts like ``NAME=``."""
        return _ASSIGNMENT_START.match(self.text, self.word_start) is not None

    def tokens(self) -> Iterator[Token]:
        text, n = self.text, len(self.text)
        word_end = -1
        while self.pos < n:
            char = text[self.pos]
            self.word_start = self.pos
            if char in _BLANK:
                self.pos = _BLANKS.match(text, self.pos).end()  # type: ignore[union-attr]
            elif char == "\n":
                yield Token("end", self.line, "\n")
                self.line += 1
                self.pos += 1
            elif char == ";":
                yield Token("end", self.line, ";")
                self.pos += 1
            elif char == "#":
                newline = text.find("\n", self.pos)
                self.pos = n if newline < 0 else newline
            elif text.startswith("\\\n", self.pos):
                self.pos += 2
                self.line += 1
            elif char in "()":
                yield Token(char, self.line, adjacent=(char == "(" and word_end == self.pos))
                self.pos += 1
            elif char in "|&<>":
                raise _fail(self.line, f"shell operator {char!r} is not a header assignment")
            else:
                yield self._word()
                word_end = self.pos
        if self.cut:
            raise self._past_the_end("")
        yield Token("eof", self.line)

    def _word(self) -> Token:
        text, n = self.text, len(self.text)
        start_line = self.line
        out: List[str] = []
        name: Optional[str] = None
        plain = True  # nothing quoted or escaped so far
        name_like = True  # `out` so far could be a NAME (kept up to date per run: linear)
        while self.pos < n:
            char = text[self.pos]
            if char in _WORD_END:
                break
            if char == "'":
                close = text.find("'", self.pos + 1)
                if close < 0:
                    raise self._past_the_end("single quote is never closed")
                chunk = text[self.pos + 1:close]
                out.append(chunk)
                self.line += chunk.count("\n")
                self.pos = close + 1
                plain = False
            elif char == '"':
                self._double_quoted(out)
                plain = False
            elif char == "\\":
                if self.pos + 1 >= n:
                    raise self._past_the_end("backslash at the end of the header")
                following = text[self.pos + 1]
                if following == "\n":
                    self.line += 1
                else:
                    out.append(following)
                    plain = False
                self.pos += 2
            elif char in "$`":
                raise _fail(self.line, f"shell expansion {char!r} cannot be read without running it")
            elif char == "=":
                if plain and name is None and name_like and out:
                    name = "".join(out)
                name_like = False
                out.append(char)
                self.pos += 1
            else:  # a run of ordinary characters, taken at once
                run = _PLAIN_RUN.match(text, self.pos).group()  # type: ignore[union-attr]
                if name_like:
                    name_like = (_NAME_REST if out else _NAME).fullmatch(run) is not None
                out.append(run)
                self.pos += len(run)
        word = "".join(out)
        if name is not None:
            return Token("word", start_line, word, name=name)
        return Token("word", start_line, word)

    def _double_quoted(self, out: List[str]) -> None:
        text, n = self.text, len(self.text)
        opened = self.line
        self.pos += 1
        while self.pos < n:
            char = text[self.pos]
            if char == '"':
                self.pos += 1
                return
            if char == "\\" and self.pos + 1 < n and text[self.pos + 1] in _DQ_ESCAPABLE + "\n":
                following = text[self.pos + 1]
                if following == "\n":
                    self.line += 1
                else:
                    out.append(following)
                self.pos += 2
                continue
            if char in "$`":
                raise _fail(self.line, f"shell expansion {char!r} cannot be read without running it")
            if char == "\n":
                self.line += 1
            out.append(char)
            self.pos += 1
        if self.cut:
            raise self._past_the_end("")
        raise _fail(opened, "double quote is never closed")


class _Stream:
    """One token of lookahead over the lazy lexer."""

    def __init__(self, tokens: Iterator[Token]) -> None:
        self._tokens = tokens
        self._ahead: Optional[Token] = None

    def peek(self) -> Token:
        if self._ahead is None:
            self._ahead = next(self._tokens)
        return self._ahead

    def take(self) -> Token:
        token = self.peek()
        self._ahead = None
        return token


Assignments = Tuple[Dict[str, str], Dict[str, Tuple[str, ...]], Dict[str, int]]


def read_assignments(text: str, last: Optional[str] = None, cut: bool = False) -> Assignments:
    """The leading ``NAME=value`` and ``NAME=( … )`` statements of a script.

    Returns scalars, arrays and the line each name was (last) set on.  Bash
    semantics: a later assignment replaces an earlier one.  Reading stops at
    the first other statement, or right after the statement setting `last`.
    `cut` says `text` is only the start of the script: reaching its end is
    then an error, never the end of the header.
    """
    lexer = _Lexer(text, cut)
    try:
        return _read_assignments(lexer, last)
    finally:
        _check_lines(text, lexer.pos)


def _check_lines(text: str, end: int) -> None:
    """Refuse a line longer than MAX_HEADER_LINE among those the lexer read."""
    start = 0
    number = 1
    while start <= end:
        newline = text.find("\n", start, start + MAX_HEADER_LINE + 1)
        if newline < 0:
            if min(len(text), end) - start > MAX_HEADER_LINE:
                raise PayloadError(f"header line {number} is longer than {MAX_HEADER_LINE} bytes")
            return
        start = newline + 1
        number += 1


def _read_assignments(lexer: _Lexer, last: Optional[str]) -> Assignments:
    scalars: Dict[str, str] = {}
    arrays: Dict[str, Tuple[str, ...]] = {}
    lines: Dict[str, int] = {}
    stream = _Stream(lexer.tokens())
    while True:
        try:
            token = stream.take()
        except HeaderTooLong:
            raise
        except PayloadError:
            if lexer.at_assignment():
                raise
            break  # unreadable code after the header is not ours to read
        if token.kind == "end":
            continue
        if token.kind != "word" or token.name is None:
            break
        statement = [_assignment(token, stream)]
        while stream.peek().kind == "word" and stream.peek().name is not None:
            statement.append(_assignment(stream.take(), stream))
        if stream.peek().kind not in ("end", "eof"):
            break  # ``A=1 command``: an environment for a command, not the header
        for name, value, line in statement:
            lines[name] = line
            if isinstance(value, tuple):
                arrays[name] = value
                scalars.pop(name, None)
            else:
                scalars[name] = value
                arrays.pop(name, None)
        if last is not None and last in lines:
            break
    return scalars, arrays, lines


def _assignment(token: Token, stream: _Stream) -> Tuple[str, Union[str, Tuple[str, ...]], int]:
    assert token.name is not None
    value = token.text[len(token.name) + 1:]
    following = stream.peek()
    if value or following.kind != "(" or not following.adjacent:
        return token.name, value, token.line
    stream.take()
    items: List[str] = []
    while True:
        item = stream.take()
        if item.kind == "word":
            items.append(item.text)
        elif item.kind == ")":
            return token.name, tuple(items), token.line
        elif item.kind == "end" and item.text == "\n":
            continue  # arrays may span lines; a ';' inside one is a bash syntax error
        elif item.kind == "eof":
            raise _fail(token.line, f"array {token.name}=( … ) is never closed")
        else:
            raise _fail(item.line, f"array {token.name}=( … ) holds {item.text or item.kind!r}")

